// model/decoder.h — the Qwen2 / Llama decoder-only language model in libtorch.
//
// One module serves every use, so that the actor's behaviour log-probabilities and the learner's
// recomputed ones come from the same code:
//   ForwardHidden  full causal forward of a right-padded batch (training, scoring), differentiable;
//   Prefill        appends tokens to one slot of a KVCache (prompt processing, prefix extension);
//   Decode         one new token for each of several slots of a KVCache (batched generation).
// All three run the same layers and the same attention function; they differ only in where keys
// and values come from. Parameter names equal Hugging Face's (model.layers.N.self_attn.q_proj...),
// so state dicts map 1:1 to safetensors checkpoints.
//
// Attention is grouped-query (num_key_value_heads <= num_attention_heads) without repeating keys:
// the query heads of a group share one key/value head. Rotary embeddings use the Hugging Face
// "rotate half" layout with theta from the config. RMSNorm and softmax run in fp32 for bf16 models.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include <functional>
#include <memory>
#include <vector>

#include "model/model_config.h"
#include "model/parameter_gate.h"

namespace iranker {

// Keys and values of `slots` independent sequences, each up to `capacity` tokens.
// Slot s holds length[s] valid positions; the model appends to it. Not thread-safe.
struct KVCache {
  KVCache(const ModelConfig& cfg, int64_t slots, int64_t capacity, c10::ScalarType dtype,
          c10::Device device);
  std::vector<at::Tensor> k, v;  // per layer: [slots, kv_heads, capacity, head_dim]
  std::vector<int64_t> length;   // valid positions per slot
  int64_t slots() const { return static_cast<int64_t>(length.size()); }
  int64_t capacity() const { return capacity_; }
  // Copies the first `len` positions of slot src into slot dst and sets length[dst] = len.
  void CopyPrefix(int64_t src, int64_t dst, int64_t len);
  int64_t Bytes() const;

 private:
  int64_t capacity_;
};

class DecoderLM : public torch::nn::Module {
 public:
  explicit DecoderLM(const ModelConfig& cfg);

  const ModelConfig& config() const { return cfg_; }

  // ids [B, T] (int64, right-padded: padding only after each row's tokens). Returns the final
  // normalised hidden states [B, T, hidden]. Row b's outputs at its valid positions do not depend
  // on its padding.
  at::Tensor ForwardHidden(const at::Tensor& ids);

  // Shared-prefix forward, for training on G responses to one prompt: the prefix (1-D, P tokens) is
  // computed once and the suffixes (suffix [G, S], right-padded) attend to its keys and values.
  // Returns {hidden of the last prefix token [H], hidden of every suffix token [G, S, H]},
  // differentiable; equal to ForwardHidden on each concatenated row up to summation order.
  std::pair<at::Tensor, at::Tensor> ForwardSharedPrefix(const at::Tensor& prefix,
                                                        const at::Tensor& suffix);

  // Output head: hidden [..., hidden] -> logits [..., vocab] in fp32.
  at::Tensor Logits(const at::Tensor& hidden);
  // The head's weight [vocab, hidden]: lm_head's, or the embedding's when they are tied.
  const at::Tensor& HeadWeight() const;

  // Appends ids (1-D, T > 0 tokens) to `slot`; returns the hidden states of those tokens [T, H].
  // Throws Error(kResourceExhausted) when the slot would exceed the cache capacity.
  at::Tensor Prefill(KVCache& cache, int64_t slot, const at::Tensor& ids);

  // Appends one token per listed slot (ids [S]); returns their hidden states [S, H].
  at::Tensor Decode(KVCache& cache, const std::vector<int64_t>& slots, const at::Tensor& ids);

  // Re-initialises every parameter as Hugging Face does (normal(0, initializer_range) for
  // matrices, zero biases, unit norms), drawing from torch's global generator.
  void InitializeWeights();

  // Activation checkpointing for the training forwards (ForwardHidden, ForwardSharedPrefix with
  // grad mode on): each layer keeps only its input; its activations are recomputed in backward.
  // Less memory (activations of one layer instead of all) for about one more forward pass.
  void set_activation_checkpointing(bool on) { activation_checkpointing_ = on; }
  bool activation_checkpointing() const { return activation_checkpointing_; }

  // The parts of a training forward, for a ParameterGate: 0 the embedding, 1..L the layers, L + 1
  // the final norm, L + 2 the output head (the tied embedding when there is no lm_head).
  int64_t parts() const { return cfg_.num_hidden_layers + 3; }
  int head_part() const { return static_cast<int>(cfg_.num_hidden_layers + 2); }
  std::vector<at::Tensor> PartParameters(int part) const;
  // Training forwards (ForwardHidden, ForwardSharedPrefix, and the scoring head) ask `gate` for
  // each part's parameters; null: they are all there. Each layer then runs as under activation
  // checkpointing, so that nothing from a released part is kept for backward. Prefill and
  // Decode never ask.
  void set_parameter_gate(ParameterGate* gate) { gate_ = gate; }
  ParameterGate* parameter_gate() const { return gate_; }
  // For code outside the decoder that runs a part (the scoring head): Acquire (with the next
  // part), and Release with a request for the part again before backward reaches `outputs`.
  void AcquirePart(int part, int next) const {
    if (gate_) gate_->Acquire(part, next);
  }
  void ReleasePart(int part, const std::vector<at::Tensor>& outputs) const;

  // Parameter name -> tensor, in Hugging Face naming (tied lm_head omitted).
  std::vector<std::pair<std::string, at::Tensor>> NamedWeights() const;

 private:
  struct Layer;
  // Runs all layers over x [B, T, H] at positions pos [B, T]; kv(layer, k, v) stores the new
  // keys/values where they belong and returns the keys/values to attend to ([B, kvh, L, hd]);
  // mask [B or 1, 1, 1, T, L] is true where attention is allowed.
  template <class KV>
  at::Tensor RunLayers(at::Tensor x, const at::Tensor& pos, const at::Tensor& mask, KV&& kv);
  // One decoder layer (attention + MLP with residuals) on x [B, T, H]; cos/sin [B, T, 1, hd].
  template <class KV>
  at::Tensor LayerForward(size_t l, const at::Tensor& x, const at::Tensor& cos,
                          const at::Tensor& sin, const at::Tensor& mask, KV&& kv);
  at::Tensor FinalNorm(const at::Tensor& x);
  // The embedding and the final norm of a training forward, through the gate.
  at::Tensor GatedEmbed(const at::Tensor& ids);
  at::Tensor GatedFinalNorm(const at::Tensor& x);
  // Layer l of a training forward, inputs -> outputs; under activation checkpointing (and grad
  // mode) it keeps only its inputs and runs again in backward, so it holds tensors by value.
  using LayerFn = std::function<std::vector<at::Tensor>(size_t, const std::vector<at::Tensor>&)>;
  std::vector<at::Tensor> TrainingLayer(const LayerFn& layer, size_t l,
                                        const std::vector<at::Tensor>& in);
  // cos, sin [B, T, 1, hd] in dtype (computed in fp32) for positions pos [B, T].
  std::pair<at::Tensor, at::Tensor> Rotary(const at::Tensor& pos, c10::ScalarType dtype);

  ModelConfig cfg_;
  torch::nn::Module* body_ = nullptr;  // "model"
  torch::nn::Embedding embed_{nullptr};
  torch::nn::ModuleList layers_{nullptr};
  at::Tensor final_norm_;
  torch::nn::Linear lm_head_{nullptr};  // null when tied
  std::vector<std::shared_ptr<Layer>> layer_ptrs_;
  at::Tensor inv_freq_;
  bool activation_checkpointing_ = false;
  ParameterGate* gate_ = nullptr;
};

// A new module holding copies of `model`'s parameters, on the same device and in the same dtype
// (a frozen reference policy, a critic initialised from the policy).
std::shared_ptr<DecoderLM> CloneDecoder(const DecoderLM& model);

}  // namespace iranker
