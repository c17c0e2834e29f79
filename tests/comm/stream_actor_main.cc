// comm_stream_actor: a real actor process for the kill/restart test.
//   comm_stream_actor ENDPOINT ACTOR_ID COUNT
// Streams COUNT batches (forever if COUNT < 0) to the learner at ENDPOINT, then waits until all
// were accepted. Prints "incarnation <hex>" first and "accepted <n>" last; exits 0 only when every
// batch was accepted, 3 on a flush time-out.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "comm/stream.h"
#include "tests/trajectory/test_util.h"

int main(int argc, char** argv) {
  using namespace iranker::comm;
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s ENDPOINT ACTOR_ID COUNT\n", argv[0]);
    return 2;
  }
  StreamOptions opt;
  opt.learner_endpoints = {argv[1]};
  opt.heartbeat_ms = 50;
  opt.peer_timeout_ms = 500;
  opt.resend_ms = 300;
  opt.credit_window = 2;
  int actor = std::atoi(argv[2]);
  long count = std::atol(argv[3]);
  zmq::context_t ctx;
  {
    TrajectorySender sender(ctx, opt, actor);
    std::printf("incarnation %llx\n", static_cast<unsigned long long>(sender.incarnation()));
    std::fflush(stdout);
    for (long i = 0; count < 0 || i < count;) {
      if (sender.Send(iranker::testing::MakeBatch(static_cast<int>(i % 100), 2, 64),
                      std::chrono::milliseconds(1000)))
        ++i;
    }
    bool ok = sender.Flush(std::chrono::seconds(20));
    std::printf("accepted %llu\n", static_cast<unsigned long long>(sender.stats().acked));
    std::fflush(stdout);
    if (!ok) return 3;
  }
  return 0;
}
