// Fuzz target for everything that decodes bytes from the network: the wire frame
// (comm::DecodeMessage) and the trajectory batch (DecodeTrajectoryBatch), both on the raw input
// and on the payload of a well-formed frame built around it (so the checksum does not stop the
// fuzzer at the frame layer). A batch that decodes must re-encode to bytes that decode to the
// same batch (the same bytes once more).
//
// Two builds:
//  * libFuzzer (clang -fsanitize=fuzzer,address,undefined): tests/fuzz/libfuzzer.sh, CTest
//    fuzz.libfuzzer.decoder, seeded from tests/fuzz/corpus/decoder/ (written by
//    `comm_fuzz_driver --write-seeds DIR`);
//  * a plain driver (any compiler, IRANKER_FUZZ_DRIVER): random inputs and mutations of valid
//    encodings for a time budget, CTest comm_fuzz_driver.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "comm/wire.h"
#include "trajectory/codec.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_decoder: property violated: %s\n", what);
    std::abort();
  }
}

void DecodeBatch(const uint8_t* data, size_t size) {
  iranker::TrajectoryBatch b;
  std::string why;
  if (!iranker::DecodeTrajectoryBatch(data, size, &b, &why)) return;
  const std::string again = iranker::EncodeTrajectoryBatch(b);
  iranker::TrajectoryBatch c;
  Check(iranker::DecodeTrajectoryBatch(again.data(), again.size(), &c, &why),
        "re-encoded batch decodes");
  // Bytes, not operator==: a NaN reward is a legal float that compares unequal to itself.
  Check(iranker::EncodeTrajectoryBatch(c) == again, "re-encoding is stable");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace iranker::comm;
  MessageView view;
  if (DecodeMessage(data, size, 1 << 20, &view) == WireReject::kOk) {
    Check(view.payload_size <= size, "payload inside the frame");
    if (view.type == MsgType::kBatch) DecodeBatch(view.payload, view.payload_size);
  }
  DecodeBatch(data, size);
  const std::string frame = EncodeMessage(MsgType::kBatch, 7, data, size);
  Check(DecodeMessage(frame.data(), frame.size(), 1 << 30, &view) == WireReject::kOk,
        "own frame decodes");
  Check(view.payload_size == size, "own frame payload size");
  return 0;
}

#ifdef IRANKER_FUZZ_DRIVER
#include <chrono>
#include <random>
#include <vector>

// Without libFuzzer: valid batches, then random mutations of them and random bytes.
int main(int argc, char** argv) {
  const bool write_seeds = argc > 2 && std::string(argv[1]) == "--write-seeds";
  const double seconds = argc > 1 && !write_seeds ? std::atof(argv[1]) : 10.0;
  std::mt19937_64 rng(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1);
  std::vector<std::string> seeds;
  for (int k = 0; k < 8; ++k) {
    iranker::TrajectoryBatch b;
    b.actor_id = k;
    b.batch_seq = k * 3;
    for (int s = 0; s < k + 1; ++s) {
      iranker::StepRecord r;
      r.episode_id = s;
      r.query_id = "q" + std::to_string(s);
      r.dataset = "d";
      r.prompt_ids.assign(5 + s, s);
      r.response_ids.assign(2, 1);
      r.logprobs.assign(2, -0.5f);
      r.answer_text = "3";
      b.steps.push_back(r);
    }
    iranker::EpisodeSummary e;
    e.ranking = {2, 0, 1};
    b.episodes.push_back(e);
    seeds.push_back(iranker::EncodeTrajectoryBatch(b));
    seeds.push_back(iranker::comm::EncodeMessage(iranker::comm::MsgType::kBatch, k, seeds.back()));
  }
  if (write_seeds) {
    for (size_t i = 0; i < seeds.size(); ++i) {
      std::FILE* f =
          std::fopen((std::string(argv[2]) + "/seed-" + std::to_string(i)).c_str(), "wb");
      if (!f) return 1;
      std::fwrite(seeds[i].data(), 1, seeds[i].size(), f);
      std::fclose(f);
    }
    return 0;
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  uint64_t runs = 0;
  while (std::chrono::steady_clock::now() < end) {
    std::string in;
    const int kind = rng() % 4;
    if (kind == 0) {
      in.resize(rng() % 512);
      for (auto& c : in) c = static_cast<char>(rng());
    } else {
      in = seeds[rng() % seeds.size()];
      const int edits = 1 + rng() % 8;
      for (int e = 0; e < edits && !in.empty(); ++e) {
        switch (rng() % 4) {
          case 0:
            in[rng() % in.size()] ^= static_cast<char>(1u << (rng() % 8));
            break;
          case 1:
            in.resize(rng() % in.size());
            break;
          case 2:
            in[rng() % in.size()] = static_cast<char>(rng());
            break;
          default: {  // a plausible huge length somewhere
            const size_t at = rng() % in.size();
            const uint32_t big = static_cast<uint32_t>(rng());
            for (size_t i = 0; i < 4 && at + i < in.size(); ++i)
              in[at + i] = static_cast<char>(big >> (8 * i));
          }
        }
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(in.data()), in.size());
    ++runs;
  }
  std::printf("fuzz_decoder: %llu inputs in %.0f s, no crash, no property violation\n",
              static_cast<unsigned long long>(runs), seconds);
  return 0;
}
#endif
