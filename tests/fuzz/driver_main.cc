// The plain fuzz driver (any compiler, no libFuzzer): linked with one fuzz target, it runs every
// file of the target's corpus, then mutations of them (bit flips, truncations, random bytes,
// inserted JSON/YAML punctuation and huge numbers, splices of two inputs) until the time budget
// is spent. Same-seed runs repeat exactly. A property violation aborts; the input that crashed
// (abort, segfault) is written to ./crash-input first, to be added to the corpus once fixed.
// usage: fuzz_<target> CORPUS_DIR [seconds=10] [seed=1]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

const std::string* g_current = nullptr;

void SaveCrashInput(int sig) {  // async-signal-safe: open, write, close, re-raise
  if (g_current) {
    const int fd = ::open("crash-input", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      (void)!::write(fd, g_current->data(), g_current->size());
      ::close(fd);
    }
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

std::string Mutate(const std::vector<std::string>& corpus, std::mt19937_64& rng) {
  static const char* kTokens[] = {"{",
                                  "}",
                                  "[",
                                  "]",
                                  "\"",
                                  ":",
                                  ",",
                                  "\n",
                                  "\\u0000",
                                  "-1",
                                  "0",
                                  "1e309",
                                  "18446744073709551616",
                                  "null",
                                  "true",
                                  "\xff\xfe",
                                  "*a",
                                  "&a",
                                  "!!binary",
                                  "\t",
                                  "#",
                                  "'",
                                  "..",
                                  "~",
                                  "99999999999"};
  std::string in = corpus[rng() % corpus.size()];
  const int edits = 1 + static_cast<int>(rng() % 6);
  for (int e = 0; e < edits; ++e) {
    const size_t at = in.empty() ? 0 : rng() % (in.size() + 1);
    switch (rng() % 7) {
      case 0:
        if (!in.empty()) in[rng() % in.size()] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:
        in.resize(in.empty() ? 0 : rng() % in.size());
        break;
      case 2:
        if (!in.empty()) in[rng() % in.size()] = static_cast<char>(rng());
        break;
      case 3:
        in.insert(at, kTokens[rng() % (sizeof(kTokens) / sizeof(*kTokens))]);
        break;
      case 4: {  // duplicate a slice
        if (in.empty()) break;
        const size_t from = rng() % in.size(),
                     n = rng() % std::min<size_t>(64, in.size() - from) + 1;
        in.insert(at, in.substr(from, n));
        break;
      }
      case 5: {  // splice with another input
        const std::string& other = corpus[rng() % corpus.size()];
        if (other.empty()) break;
        in = in.substr(0, at) + other.substr(rng() % other.size());
        break;
      }
      default:
        if (!in.empty()) in.erase(rng() % in.size(), 1 + rng() % 16);
    }
  }
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [seconds] [seed]\n", argv[0]);
    return 2;
  }
  const double seconds = argc > 2 ? std::atof(argv[2]) : 10.0;
  std::mt19937_64 rng(argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(argv[1]))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> corpus;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    corpus.push_back(ss.str());
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "%s: no corpus files in %s\n", argv[0], argv[1]);
    return 2;
  }
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, SaveCrashInput);
  for (const auto& c : corpus) {
    g_current = &c;
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(c.data()), c.size());
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  uint64_t runs = corpus.size();
  while (std::chrono::steady_clock::now() < end) {
    const std::string in = Mutate(corpus, rng);
    g_current = &in;
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(in.data()), in.size());
    ++runs;
  }
  std::printf(
      "%s: %zu corpus files + %llu mutated inputs in %.0f s: no crash, no property violation\n",
      std::filesystem::path(argv[0]).filename().c_str(), corpus.size(),
      static_cast<unsigned long long>(runs - corpus.size()), seconds);
  return 0;
}
