// `iranker bench weights`: time from WeightPublisher::Publish to every subscriber holding the
// verified weights, for each size and subscriber count, vs a bare ZeroMQ transfer of the same
// bytes in the same chunks (one PUSH -> PULL pipe per receiver, zero-copy sends). Effective GB/s =
// size * subscribers / time (1e9). value/reference: the largest size to the most subscribers;
// ratio = bare time / ours. Params: sizes_mb (default "2,64"; quick "2,16"; qwen2.5-0.5b in bf16
// is ~988 MB: pass sizes_mb=988 on a machine with ~5 GB free per 4 subscribers), actors ("1,2,4"),
// chunk_mb (4).
#include <zmq.hpp>

#include <chrono>
#include <sstream>
#include <thread>

#include "bench/all.h"
#include "comm/weights.h"
#include "base/error.h"
#include "comm/zmq_util.h"

namespace iranker::bench {

namespace {

std::vector<double> ParseList(const std::string& s) {
  std::vector<double> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::stod(item));
  return v;
}

double OursSeconds(size_t bytes, int subs, size_t chunk, uint64_t* version) {
  zmq::context_t pctx;
  comm::WeightsOptions o;
  o.endpoint = "tcp://127.0.0.1:*";
  o.chunk_bytes = static_cast<int64_t>(chunk);
  o.poll_ms = 1000;  // delivery is driven by the pushed announcement, not by polling
  comm::WeightPublisher pub(pctx, o);
  o.endpoint = pub.endpoint();
  std::vector<std::unique_ptr<zmq::context_t>> ctxs;
  std::vector<std::unique_ptr<comm::WeightSubscriber>> s;
  for (int i = 0; i < subs; ++i) {
    ctxs.push_back(std::make_unique<zmq::context_t>());
    s.push_back(std::make_unique<comm::WeightSubscriber>(*ctxs.back(), o, i));
  }
  std::vector<float> w(bytes / 4, 0.25f);
  std::vector<comm::TensorView> views = {
      {"w", comm::DType::kFloat32, {static_cast<int64_t>(w.size())}, w.data(), w.size() * 4}};
  // Warm-up version so that every subscriber is connected and known to the publisher.
  pub.Publish(++*version, {{"w", comm::DType::kFloat32, {1}, w.data(), 4}});
  comm::WeightSet ws;
  for (auto& sub : s) sub->WaitFor(*version, &ws, std::chrono::seconds(30));
  auto t0 = std::chrono::steady_clock::now();
  pub.Publish(++*version, views);
  for (auto& sub : s)
    if (!sub->WaitFor(*version, &ws, std::chrono::seconds(600)))
      Fail(ErrorCode::kDeadlineExceeded, "bench weights: a subscriber did not get the weights");
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double BareSeconds(size_t bytes, int subs, size_t chunk) {
  zmq::context_t sctx;
  std::vector<std::unique_ptr<zmq::context_t>> rctx;
  std::vector<zmq::socket_t> push, pull;
  for (int i = 0; i < subs; ++i) {
    rctx.push_back(std::make_unique<zmq::context_t>());
    pull.emplace_back(*rctx.back(), zmq::socket_type::pull);
    pull.back().bind("tcp://127.0.0.1:*");
    push.emplace_back(sctx, zmq::socket_type::push);
    push.back().connect(pull.back().get(zmq::sockopt::last_endpoint));
  }
  auto blob = std::make_shared<const std::string>(bytes, 'w');
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> receivers;
  for (int i = 0; i < subs; ++i)
    receivers.emplace_back([&, i] {
      std::string out(bytes, '\0');
      size_t got = 0;
      zmq::message_t m;
      while (got < bytes) {
        (void)pull[i].recv(m);
        std::memcpy(out.data() + got, m.data(), m.size());
        got += m.size();
      }
    });
  for (size_t off = 0; off < bytes; off += chunk)
    for (int i = 0; i < subs; ++i)
      push[i].send(comm::SharedSliceMessage(blob, off, std::min(chunk, bytes - off)), zmq::send_flags::none);
  for (auto& t : receivers) t.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

BenchResult RunWeights(const BenchArgs& args) {
  auto sizes = ParseList(args.Param("sizes_mb", args.quick ? "2,16" : "2,64"));
  auto actors = ParseList(args.Param("actors", "1,2,4"));
  size_t chunk = static_cast<size_t>(std::stod(args.Param("chunk_mb", "4")) * (1 << 20));
  nlohmann::json table = nlohmann::json::array();
  BenchResult r;
  uint64_t version = 0;
  for (double mb : sizes) {
    size_t bytes = static_cast<size_t>(mb * 1e6) / 4 * 4;
    for (double a : actors) {
      int n = static_cast<int>(a);
      std::vector<double> ours, bare;
      for (int rep = 0; rep < args.warmup + std::max(1, args.repeats); ++rep) {
        double o = OursSeconds(bytes, n, chunk, &version), b = BareSeconds(bytes, n, chunk);
        if (rep >= args.warmup) {
          ours.push_back(o);
          bare.push_back(b);
        }
      }
      double o = Median(ours), b = Median(bare);
      table.push_back({{"mb", mb}, {"actors", n}, {"seconds", o}, {"GBps", bytes * n / o / 1e9},
                       {"bare_seconds", b}, {"bare_GBps", bytes * n / b / 1e9}, {"ratio", b / o}});
      r.value = bytes * n / o / 1e9;
      r.reference_value = bytes * n / b / 1e9;
      r.ratio = b / o;
    }
  }
  r.value_name = "weight broadcast, largest size to most actors (effective)";
  r.unit = "GB/s";
  r.reference = "bare ZeroMQ PUSH/PULL of the same bytes and chunks";
  r.extra = {{"table", table},
             {"chunk_bytes", chunk},
             {"definition", "size * actors / (Publish -> last actor holds verified weights)"}};
  return r;
}

}  // namespace iranker::bench
