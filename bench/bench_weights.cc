// `iranker bench weights`: time from WeightPublisher::Publish to every subscriber holding the
// verified weights, for each model and subscriber count, vs a bare ZeroMQ transfer of the same
// bytes in the same chunks (one PUSH -> PULL pipe per receiver, zero-copy sends). Effective GB/s =
// size * subscribers / time (1e9). value/reference: the last model to the most subscribers;
// ratio = bare time / ours.
// Params: presets (default "small,qwen2.5-0.5b"; quick "tiny,small"): the weights are the
// preset's parameter tensors, one view per tensor with its real shape (qwen2.5-0.5b: 290 tensors,
// 494M parameters, 988 MB in bf16; with 4 actors it needs ~10 GB of memory); dtype (bf16, the
// actors' dtype on GPUs, or f32); or sizes_mb ("2,64": one flat tensor per size instead of
// presets); actors ("1,2,4"); chunk_mb (4); netns=A,B host=ADDR: the publisher in host A at ADDR,
// the subscribers in host B (cluster/hosts.sh; ours and bare alike).
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>
#include <zmq.hpp>

#include "base/error.h"
#include "bench/all.h"
#include "bench/netns.h"
#include "comm/weights.h"
#include "comm/zmq_util.h"
#include "model/model_config.h"

namespace iranker::bench {

namespace {

std::vector<double> ParseList(const std::string& s) {
  std::vector<double> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::stod(item));
  return v;
}

// What is published: named tensor shapes with one dtype.
struct Payload {
  std::string name;
  comm::DType dtype = comm::DType::kFloat32;
  std::vector<std::pair<std::string, std::vector<int64_t>>> tensors;
  size_t TensorBytes(const std::vector<int64_t>& shape) const {
    size_t n = comm::DTypeSize(dtype);
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    return n;
  }
  size_t bytes() const {
    size_t n = 0;
    for (const auto& t : tensors) n += TensorBytes(t.second);
    return n;
  }
};

// The parameter tensors of a Qwen2/Llama decoder with this shape (names as in safetensors).
Payload PresetPayload(const std::string& preset, comm::DType dtype) {
  ModelConfig c = PresetConfig(preset);
  Payload p;
  p.name = preset;
  p.dtype = dtype;
  const int64_t h = c.hidden_size, kv = c.num_key_value_heads * c.HeadDim(),
                q = c.num_attention_heads * c.HeadDim(), inter = c.intermediate_size;
  auto add = [&](std::string n, std::vector<int64_t> shape) {
    p.tensors.emplace_back(std::move(n), std::move(shape));
  };
  add("model.embed_tokens.weight", {c.vocab_size, h});
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string pre = "model.layers." + std::to_string(l) + ".";
    add(pre + "input_layernorm.weight", {h});
    add(pre + "self_attn.q_proj.weight", {q, h});
    add(pre + "self_attn.k_proj.weight", {kv, h});
    add(pre + "self_attn.v_proj.weight", {kv, h});
    if (c.attention_bias) {
      add(pre + "self_attn.q_proj.bias", {q});
      add(pre + "self_attn.k_proj.bias", {kv});
      add(pre + "self_attn.v_proj.bias", {kv});
    }
    add(pre + "self_attn.o_proj.weight", {h, q});
    add(pre + "post_attention_layernorm.weight", {h});
    add(pre + "mlp.gate_proj.weight", {inter, h});
    add(pre + "mlp.up_proj.weight", {inter, h});
    add(pre + "mlp.down_proj.weight", {h, inter});
  }
  add("model.norm.weight", {h});
  if (!c.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, h});
  return p;
}

Payload FlatPayload(double mb) {
  Payload p;
  p.name = std::to_string(static_cast<int64_t>(mb)) + " MB";
  p.tensors.emplace_back("w", std::vector<int64_t>{static_cast<int64_t>(mb * 1e6) / 4});
  return p;
}

// Views of the payload's tensors over one buffer (their contents do not matter to the transfer).
std::vector<comm::TensorView> Views(const Payload& p, const std::vector<char>& buffer) {
  std::vector<comm::TensorView> v;
  size_t off = 0;
  for (const auto& [name, shape] : p.tensors) {
    const size_t n = p.TensorBytes(shape);
    v.push_back({name, p.dtype, shape, buffer.data() + off, n});
    off += n;
  }
  return v;
}

// Ours in steady state, as in training: one publisher and `subs` subscribers that live across
// versions, each subscriber holding the version it last got (as an actor holds its weights).
class OursRig {
 public:
  OursRig(const TransferSides& sides, const Payload& payload, int subs, size_t chunk)
      : buffer_(payload.bytes(), 1), views_(Views(payload, buffer_)), held_(subs) {
    comm::WeightsOptions o;
    o.endpoint = sides.Endpoint();
    o.chunk_bytes = static_cast<int64_t>(chunk);
    o.poll_ms = 1000;  // delivery is driven by the pushed announcement, not by polling
    o.security.allow_insecure_remote = true;  // across hosts: no CURVE, as the bare reference
    NetnsSwitch ns;  // each end's sockets (and its context's I/O threads) start in its host
    ns.Enter(sides.bind_netns);
    pub_ = std::make_unique<comm::WeightPublisher>(pctx_, o);
    o.endpoint = pub_->endpoint();
    ns.Enter(sides.connect_netns);
    for (int i = 0; i < subs; ++i) {
      ctxs_.push_back(std::make_unique<zmq::context_t>());
      subs_.push_back(std::make_unique<comm::WeightSubscriber>(*ctxs_.back(), o, i));
    }
    ns.Enter("");
    // A first tiny version, so that every subscriber is connected and known to the publisher.
    float one = 1;
    pub_->Publish(++version_, {{"w", comm::DType::kFloat32, {1}, &one, 4}});
    for (int i = 0; i < subs; ++i) subs_[i]->WaitFor(version_, &held_[i], std::chrono::seconds(30));
  }
  // Publish -> every subscriber holds the verified weights; *publish_s: the part in Publish
  // (serialise and checksum).
  double Deliver(double* publish_s) {
    buffer_[version_ % buffer_.size()]++;  // a new version differs from the last
    auto t0 = std::chrono::steady_clock::now();
    pub_->Publish(++version_, views_);
    *publish_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t i = 0; i < subs_.size(); ++i)
      if (!subs_[i]->WaitFor(version_, &held_[i], std::chrono::seconds(600)))
        Fail(ErrorCode::kDeadlineExceeded, "bench weights: a subscriber did not get the weights");
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

 private:
  zmq::context_t pctx_;
  std::vector<char> buffer_;
  std::vector<comm::TensorView> views_;
  std::unique_ptr<comm::WeightPublisher> pub_;
  std::vector<std::unique_ptr<zmq::context_t>> ctxs_;
  std::vector<std::unique_ptr<comm::WeightSubscriber>> subs_;
  std::vector<comm::WeightSet> held_;
  uint64_t version_ = 0;
};

// The reference in the same steady state: connected PUSH -> PULL pipes and receive buffers that
// live across transfers; each transfer sends the blob's chunks zero-copy to every receiver,
// which copies them into its buffer.
class BareRig {
 public:
  BareRig(const TransferSides& sides, size_t bytes, int subs, size_t chunk)
      : bytes_(bytes), chunk_(chunk), blob_(std::make_shared<const std::string>(bytes, 'w')) {
    // Each pipe's PUSH binds in the publisher's host and its PULL connects from the subscribers'
    // host, as ours connects: the bytes cross the link in the same direction.
    NetnsSwitch ns;
    for (int i = 0; i < subs; ++i) {
      ns.Enter(sides.bind_netns);
      push_.emplace_back(sctx_, zmq::socket_type::push);
      push_.back().bind(sides.Endpoint());
      ns.Enter(sides.connect_netns);
      rctx_.push_back(std::make_unique<zmq::context_t>());
      pull_.emplace_back(*rctx_.back(), zmq::socket_type::pull);
      pull_.back().connect(push_.back().get(zmq::sockopt::last_endpoint));
      out_.emplace_back(bytes, '\0');
    }
    ns.Enter("");
    Transfer(std::min(bytes, chunk));  // connections up before the first timed transfer
  }
  double Seconds() {
    auto t0 = std::chrono::steady_clock::now();
    Transfer(bytes_);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

 private:
  void Transfer(size_t bytes) {
    std::vector<std::thread> receivers;
    for (size_t i = 0; i < pull_.size(); ++i)
      receivers.emplace_back([&, i] {
        size_t got = 0;
        zmq::message_t m;
        while (got < bytes) {
          (void)pull_[i].recv(m);
          std::memcpy(out_[i].data() + got, m.data(), m.size());
          got += m.size();
        }
      });
    for (size_t off = 0; off < bytes; off += chunk_)
      for (auto& p : push_)
        p.send(comm::SharedSliceMessage(blob_, off, std::min(chunk_, bytes - off)),
               zmq::send_flags::none);
    for (auto& t : receivers) t.join();
  }

  size_t bytes_, chunk_;
  std::shared_ptr<const std::string> blob_;
  zmq::context_t sctx_;
  std::vector<std::unique_ptr<zmq::context_t>> rctx_;
  std::vector<zmq::socket_t> push_, pull_;
  std::vector<std::string> out_;
};

}  // namespace

BenchResult RunWeights(const BenchArgs& args) {
  std::vector<Payload> payloads;
  if (!args.Param("sizes_mb", "").empty()) {
    for (double mb : ParseList(args.Param("sizes_mb", ""))) payloads.push_back(FlatPayload(mb));
  } else {
    const std::string dtype = args.Param("dtype", "bf16");
    if (dtype != "bf16" && dtype != "f32")
      Fail(ErrorCode::kInvalidArgument, "bench weights: dtype must be bf16 or f32, not '", dtype,
           "'");
    std::stringstream ss(args.Param("presets", args.quick ? "tiny,small" : "small,qwen2.5-0.5b"));
    for (std::string name; std::getline(ss, name, ',');)
      payloads.push_back(
          PresetPayload(name, dtype == "bf16" ? comm::DType::kBFloat16 : comm::DType::kFloat32));
  }
  const TransferSides sides = ParseTransferSides(args, "weights");
  auto actors = ParseList(args.Param("actors", "1,2,4"));
  size_t chunk = static_cast<size_t>(std::stod(args.Param("chunk_mb", "4")) * (1 << 20));
  nlohmann::json table = nlohmann::json::array();
  BenchResult r;
  for (const Payload& payload : payloads) {
    const size_t bytes = payload.bytes();
    for (double a : actors) {
      int n = static_cast<int>(a);
      std::vector<double> ours, bare, publish;
      // One rig at a time (a 1 GB model to 4 actors needs ~10 GB): ours' repeats, then the
      // reference's, each rig living across its repeats as the publisher does in training.
      const int reps = args.warmup + std::max(1, args.repeats);
      std::vector<double> o_all, p_all, b_all;
      {
        OursRig rig(sides, payload, n, chunk);
        for (int rep = 0; rep < reps; ++rep) {
          double p = 0;
          o_all.push_back(rig.Deliver(&p));
          p_all.push_back(p);
        }
      }
      {
        BareRig rig(sides, bytes, n, chunk);
        for (int rep = 0; rep < reps; ++rep) b_all.push_back(rig.Seconds());
      }
      for (int rep = args.warmup; rep < reps; ++rep) {
        ours.push_back(o_all[rep]);
        bare.push_back(b_all[rep]);
        publish.push_back(p_all[rep]);
      }
      double o = Median(ours), b = Median(bare);
      table.push_back({{"weights", payload.name},
                       {"tensors", payload.tensors.size()},
                       {"mb", bytes / 1e6},
                       {"actors", n},
                       {"seconds", o},
                       {"publish_seconds", Median(publish)},
                       {"GBps", bytes * n / o / 1e9},
                       {"bare_seconds", b},
                       {"bare_GBps", bytes * n / b / 1e9},
                       {"ratio", b / o}});
      r.value = bytes * n / o / 1e9;
      r.reference_value = bytes * n / b / 1e9;
      r.ratio = b / o;
    }
  }
  r.value_name = "weight broadcast, " + payloads.back().name + " to the most actors (effective)";
  r.unit = "GB/s";
  r.reference = "bare ZeroMQ PUSH/PULL of the same bytes and chunks";
  r.extra = {{"table", table},
             {"link", sides.Describe()},
             {"chunk_bytes", chunk},
             {"definition", "size * actors / (Publish -> last actor holds verified weights)"}};
  return r;
}

}  // namespace iranker::bench
