// `iranker bench stream`: trajectory bytes/s through the actor -> learner stream on loopback TCP
// (encode, checksum, credit, receipt, decode, ACK) vs a bare ZeroMQ PUSH/PULL loop moving frames
// of the same sizes. value = frame bytes delivered per second (MB/s, 1e6); ratio = value / bare.
// Params: batches=N (default 3000, quick 300), steps=S per batch (8), prompt=P tokens (1024),
// response=R tokens (256), window=W credit window (32), pending=P actor-side batches (2),
// part=both|stream|bare (one side only, for profiling: ratio 0); netns=A,B host=ADDR: the learner
// end in host A at ADDR, the actor end in host B (cluster/hosts.sh; both ends, ours and bare).
// The window: credit must cover the time a batch spends between Send and its ACK, scheduling
// delays included. At ~50 us per 50 KB batch a window of 8 drains in 0.4 ms, less than one
// scheduler time slice on a busy 2-core machine, and the stream then waits on the scheduler,
// not on its own work (ratio ~0.7 there vs ~0.9 at 32). 32 batches are 1.6 MB in flight; the
// bare PUSH/PULL reference may queue up to its high-water mark of 1000 messages (50 MB).
#include <chrono>
#include <thread>
#include <zmq.hpp>

#include "base/error.h"
#include "bench/all.h"
#include "bench/netns.h"
#include "comm/stream.h"
#include "trajectory/codec.h"

namespace iranker::bench {

namespace {

TrajectoryBatch MakeBatch(int steps, int prompt, int response) {
  TrajectoryBatch b;
  for (int i = 0; i < steps; ++i) {
    StepRecord s;
    s.episode_id = i;
    s.query_id = "q" + std::to_string(i);
    s.dataset = "bench";
    s.prompt_ids.assign(prompt, 17);
    s.response_ids.assign(response, 42);
    s.logprobs.assign(response, -0.5f);
    s.answer_text = "[3] > [1] > [2]";
    b.steps.push_back(std::move(s));
  }
  return b;
}

double StreamSeconds(const TransferSides& sides, int batches, const TrajectoryBatch& proto,
                     int window, int pending, uint64_t* bytes) {
  zmq::context_t lctx, actx;  // two contexts: as separate processes would have
  comm::StreamOptions o;
  o.learner_endpoints = {sides.Endpoint()};
  o.credit_window = window;
  o.learner_queue_batches = window * 2;
  o.actor_pending_batches = pending;
  o.security.allow_insecure_remote = true;  // across hosts: no CURVE, as the bare reference
  NetnsSwitch ns;  // each end's sockets (and its context's I/O threads) start in its host
  ns.Enter(sides.bind_netns);
  comm::TrajectoryReceiver learner(lctx, o, 0);
  o.learner_endpoints = {learner.endpoint()};
  ns.Enter(sides.connect_netns);
  comm::TrajectorySender actor(actx, o, 1);
  ns.Enter("");
  // Warm-up: connection and credit established.
  actor.Send(proto, std::chrono::seconds(10));
  TrajectoryBatch got;
  learner.Receive(&got, std::chrono::seconds(10));
  actor.Flush(std::chrono::seconds(10));
  uint64_t bytes0 = learner.stats().bytes_received;
  auto t0 = std::chrono::steady_clock::now();
  std::thread consumer([&] {
    TrajectoryBatch b;
    for (int i = 0; i < batches; ++i) learner.Receive(&b, std::chrono::seconds(30));
  });
  for (int i = 0; i < batches; ++i) actor.Send(proto, std::chrono::seconds(30));
  consumer.join();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  actor.Flush(std::chrono::seconds(10));
  *bytes = learner.stats().bytes_received - bytes0;
  return s;
}

uint64_t EncodedFrameBytes(const TrajectoryBatch& b) {
  return comm::kWireHeaderBytes + EncodeTrajectoryBatch(b).size();
}

double BareSeconds(const TransferSides& sides, int batches, size_t frame_bytes) {
  zmq::context_t rctx, sctx;
  NetnsSwitch ns;
  ns.Enter(sides.bind_netns);
  zmq::socket_t pull(rctx, zmq::socket_type::pull);
  pull.bind(sides.Endpoint());
  ns.Enter(sides.connect_netns);
  zmq::socket_t push(sctx, zmq::socket_type::push);
  push.connect(pull.get(zmq::sockopt::last_endpoint));
  ns.Enter("");
  std::string frame(frame_bytes, 'x');
  push.send(zmq::buffer(frame));
  zmq::message_t m;
  (void)pull.recv(m);
  auto t0 = std::chrono::steady_clock::now();
  std::thread consumer([&] {
    zmq::message_t msg;
    for (int i = 0; i < batches; ++i) (void)pull.recv(msg);
  });
  for (int i = 0; i < batches; ++i)
    push.send(zmq::message_t(frame.data(), frame.size()), zmq::send_flags::none);
  consumer.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

BenchResult RunStream(const BenchArgs& args) {
  int batches = std::stoi(args.Param("batches", args.quick ? "300" : "3000"));
  int steps = std::stoi(args.Param("steps", "8"));
  int prompt = std::stoi(args.Param("prompt", "1024"));
  int response = std::stoi(args.Param("response", "256"));
  int window = std::stoi(args.Param("window", "32"));
  int pending = std::stoi(args.Param("pending", "2"));
  // part=stream or part=bare runs one side only (for profiling); the ratio then is not reported.
  const std::string part = args.Param("part", "both");
  if (part != "both" && part != "stream" && part != "bare")
    Fail(ErrorCode::kInvalidArgument, "bench stream: part must be both, stream or bare, not '",
         part, "'");
  const TransferSides sides = ParseTransferSides(args, "stream");
  TrajectoryBatch proto = MakeBatch(steps, prompt, response);
  uint64_t bytes = 0;
  std::vector<double> ours, bare;
  for (int r = 0; r < args.warmup + std::max(1, args.repeats); ++r) {
    double s = part == "bare" ? 0 : StreamSeconds(sides, batches, proto, window, pending, &bytes);
    if (part == "bare") bytes = EncodedFrameBytes(proto) * static_cast<uint64_t>(batches);
    double b = part == "stream" ? 0 : BareSeconds(sides, batches, bytes / batches);
    if (r >= args.warmup) {
      ours.push_back(s);
      bare.push_back(b);
    }
  }
  double s = Median(ours), b = Median(bare);
  BenchResult res;
  res.value_name = "trajectory stream throughput (" + sides.Describe() + ")";
  res.unit = "MB/s";
  res.value = s > 0 ? bytes / s / 1e6 : 0;
  res.reference = "bare ZeroMQ PUSH/PULL, same frame sizes";
  res.reference_value = b > 0 ? bytes / b / 1e6 : 0;
  res.ratio = s > 0 && b > 0 ? res.value / res.reference_value : 0;
  res.extra = {
      {"batches", batches},
      {"window", window},
      {"pending", pending},
      {"link", sides.Describe()},
      {"frame_bytes", bytes / batches},
      {"batches_per_s", s > 0 ? batches / s : 0},
      {"definition", "frame bytes (header + encoded batch) delivered to Receive per second"}};
  return res;
}

}  // namespace iranker::bench
