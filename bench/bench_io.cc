#include <cstdio>

#include "bench/bench.h"

namespace cairn::bench {

int RunIo(const IoOptions&) {
  std::fprintf(stderr, "cairn-bench io: needs the data path\n");
  return 2;
}

}  // namespace cairn::bench
