#include "namenode/namenode_service.h"

#include "common/grpc_status.h"

namespace cairn::namenode {
namespace {

using cairn::v1::NameNodeService;

// A completion-queue tag.
class Tag {
 public:
  virtual ~Tag() = default;
  virtual void Proceed(bool ok) = 0;
};

// One unary call: waits for a request, then (re-arming itself for the next one) hands the
// request to the core and finishes with the core's answer.
// RequestFn: the generated AsyncService::RequestX member (declared on a base class of it).
template <typename Core, typename Req, typename Resp, typename RequestFn>
class UnaryCall final : public Tag {
 public:
  using CoreFn = void (Core::*)(const Req&, Resp*, std::function<void(Status)>);

  UnaryCall(NameNodeService::AsyncService* service, grpc::ServerCompletionQueue* cq,
            RequestFn request, Core* core, CoreFn method)
      : service_(service), cq_(cq), request_(request), core_(core), method_(method),
        responder_(&ctx_) {
    (service_->*request_)(&ctx_, &req_, &responder_, cq_, cq_, this);
  }

  void Proceed(bool ok) override {
    if (finishing_ || !ok) {
      delete this;
      return;
    }
    new UnaryCall(service_, cq_, request_, core_, method_);
    finishing_ = true;
    (core_->*method_)(req_, &resp_, [this](Status s) {
      if (s.ok()) {
        responder_.Finish(resp_, grpc::Status::OK, this);
      } else {
        responder_.FinishWithError(ToGrpcStatus(s), this);
      }
    });
  }

 private:
  NameNodeService::AsyncService* const service_;
  grpc::ServerCompletionQueue* const cq_;
  const RequestFn request_;
  Core* const core_;
  const CoreFn method_;
  grpc::ServerContext ctx_;
  Req req_;
  Resp resp_;
  grpc::ServerAsyncResponseWriter<Resp> responder_;
  bool finishing_ = false;
};

}  // namespace

NameNodeServer::~NameNodeServer() { Stop(); }

void NameNodeServer::Register(grpc::ServerBuilder* builder, int threads) {
  builder->RegisterService(&service_);
  for (int i = 0; i < threads; ++i) cqs_.push_back(builder->AddCompletionQueue());
}

template <typename Core, typename Req, typename Resp, typename RequestFn>
void Serve(NameNodeService::AsyncService* service, grpc::ServerCompletionQueue* cq,
           RequestFn request, Core* core,
           void (Core::*method)(const Req&, Resp*, std::function<void(Status)>)) {
  new UnaryCall<Core, Req, Resp, RequestFn>(service, cq, request, core, method);
}

#define CAIRN_SERVE(core, Method)                                                 \
  Serve(&service_, cq, &NameNodeService::AsyncService::Request##Method, core, \
        &std::remove_pointer_t<decltype(core)>::Method)

void NameNodeServer::PostAll(grpc::ServerCompletionQueue* cq) {
  CAIRN_SERVE(ns_, Mkdir);
  CAIRN_SERVE(ns_, CreateFile);
  CAIRN_SERVE(ns_, CreateSymlink);
  CAIRN_SERVE(ns_, GetFileInfo);
  CAIRN_SERVE(ns_, ListDirectory);
  CAIRN_SERVE(ns_, Rename);
  CAIRN_SERVE(ns_, Delete);
  CAIRN_SERVE(ns_, SetReplication);
  CAIRN_SERVE(ns_, SetPermission);
  CAIRN_SERVE(ns_, SetOwner);
  CAIRN_SERVE(ns_, SetTimes);
  CAIRN_SERVE(&batch_, Batch);
  CAIRN_SERVE(files_, GetFsStats);
  CAIRN_SERVE(files_, AddBlock);
  CAIRN_SERVE(files_, CompleteFile);
  CAIRN_SERVE(files_, AbandonBlock);
  CAIRN_SERVE(files_, GetBlockLocations);
  CAIRN_SERVE(files_, RenewLease);
  CAIRN_SERVE(files_, ReportBadBlocks);
  CAIRN_SERVE(files_, UpdateLength);
  CAIRN_SERVE(files_, UpdatePipeline);
  CAIRN_SERVE(admin_, GetDataNodeReport);
  CAIRN_SERVE(admin_, SetSafeMode);
  CAIRN_SERVE(admin_, Decommission);
  CAIRN_SERVE(admin_, Fsck);
  CAIRN_SERVE(dn_, RegisterDataNode);
  CAIRN_SERVE(dn_, Heartbeat);
  CAIRN_SERVE(dn_, ReportBlocks);
  CAIRN_SERVE(dn_, ReportIncrementalBlocks);
}
#undef CAIRN_SERVE

void NameNodeServer::Start() {
  for (auto& cq : cqs_) {
    PostAll(cq.get());
    threads_.emplace_back([q = cq.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (q->Next(&tag, &ok)) static_cast<Tag*>(tag)->Proceed(ok);
    });
  }
}

void NameNodeServer::Stop() {
  for (auto& cq : cqs_) cq->Shutdown();
  for (auto& t : threads_) t.join();
  threads_.clear();
  cqs_.clear();
}

}  // namespace cairn::namenode
