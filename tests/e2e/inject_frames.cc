// tests/e2e/inject_frames.cc — a hostile peer for the fault-injection suite (tests/e2e/faults.sh).
//
// usage: e2e_inject_frames RUN_DIR [ROUNDS]
// Reads RUN_DIR/rendezvous.json, connects a DEALER to every learner's trajectory endpoint and to
// the weight publisher, as an unknown peer, and sends ROUNDS rounds (default 3, 300 ms apart) of
// frames that must be rejected and counted, never crash or stall the job:
//   stream:  an empty frame, a 4-byte stub (truncated header), random bytes, a BATCH with a
//            flipped payload byte (checksum), a BATCH whose header is sound but whose payload
//            is cut short (decoder), an unknown message type, a wrong magic number;
//   weights: the same junk, and a request for a policy version that does not exist.
// No frame is a well-formed batch: an authenticated peer's valid batch is CURVE's business
// (commSecurity tests), not this one's. Prints one line per round; exit 0 once all were sent.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "cluster/roles.h"
#include "comm/wire.h"
#include "trajectory/codec.h"

namespace {

using iranker::comm::EncodeMessage;
using iranker::comm::MsgType;

iranker::TrajectoryBatch FakeBatch(int seq) {
  iranker::TrajectoryBatch b;
  b.actor_id = 999;  // no such actor
  b.actor_incarnation = 1;
  b.batch_seq = seq;
  iranker::StepRecord s;
  s.query_id = "hostile";
  s.dataset = "none";
  s.actor_id = 999;
  for (int t = 0; t < 64; ++t) s.prompt_ids.push_back(t);
  for (int t = 0; t < 8; ++t) {
    s.response_ids.push_back(t);
    s.logprobs.push_back(-1.0f);
  }
  b.steps.push_back(s);
  return b;
}

std::vector<std::string> HostileFrames(std::mt19937& rng, int round) {
  std::vector<std::string> frames;
  frames.push_back("");
  frames.push_back("junk");
  std::string random(4096, '\0');
  for (auto& c : random) c = static_cast<char>(rng());
  frames.push_back(random);
  const std::string good =
      EncodeMessage(MsgType::kBatch, 999, iranker::EncodeTrajectoryBatch(FakeBatch(round)));
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x5a;
  frames.push_back(flipped);
  const std::string payload = iranker::EncodeTrajectoryBatch(FakeBatch(round));
  frames.push_back(EncodeMessage(MsgType::kBatch, 999, payload.substr(0, payload.size() / 3)));
  frames.push_back(EncodeMessage(static_cast<MsgType>(77), 999, std::string("??")));
  std::string magic = good;
  magic[0] ^= 0xff;
  frames.push_back(magic);
  return frames;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s RUN_DIR [ROUNDS]\n", argv[0]);
    return 2;
  }
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const auto rv = iranker::ReadRendezvous(argv[1], 60.0);
  zmq::context_t ctx;
  std::vector<zmq::socket_t> sockets;
  auto connect = [&](const std::string& endpoint) {
    sockets.emplace_back(ctx, zmq::socket_type::dealer);
    sockets.back().set(zmq::sockopt::linger, 1000);
    sockets.back().set(zmq::sockopt::sndtimeo, 2000);
    sockets.back().connect(endpoint);
  };
  for (const auto& s : rv.streams) connect(s);
  connect(rv.weights);
  std::mt19937 rng(12345);
  size_t sent = 0;
  for (int round = 0; round < rounds; ++round) {
    for (auto& sock : sockets) {
      for (const auto& f : HostileFrames(rng, round)) {
        if (sock.send(zmq::buffer(f), zmq::send_flags::none)) ++sent;
      }
    }
    // A well-formed request for a version that does not exist: answered (stale) or ignored.
    std::string req(16, '\0');
    req[0] = 0x7f;
    req[7] = 0x7f;
    if (sockets.back().send(zmq::buffer(EncodeMessage(MsgType::kWeightsRequest, 999, req)),
                            zmq::send_flags::none))
      ++sent;
    std::printf("inject: round %d: %zu frames sent so far to %zu endpoints\n", round + 1, sent,
                sockets.size());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  return 0;
}
