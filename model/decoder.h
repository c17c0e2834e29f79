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
};

// A new module holding copies of `model`'s parameters, on the same device and in the same dtype
// (a frozen reference policy, a critic initialised from the policy).
std::shared_ptr<DecoderLM> CloneDecoder(const DecoderLM& model);

}  // namespace iranker
