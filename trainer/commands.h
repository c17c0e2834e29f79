// trainer/commands.h — each `iranker` subcommand registers itself on the CLI11 app.
// A command's callback throws iranker::Error for failures the user can fix; main() prints it.
#pragma once

#include <CLI/CLI.hpp>

#include "bench/bench.h"

namespace iranker {

void AddConfigCommand(CLI::App& app);
void AddBenchCommand(CLI::App& app);
void AddTrainCommand(CLI::App& app);
void AddActorCommand(CLI::App& app);
void AddEvalCommand(CLI::App& app);
void AddRankCommand(CLI::App& app);
void AddInitModelCommand(CLI::App& app);
void AddRolesCommand(CLI::App& app);
void AddMetricsCommand(CLI::App& app);
void AddDataCommand(CLI::App& app);
void AddKeygenCommand(CLI::App& app);
void AddInspectCommand(CLI::App& app);
// Benchmarks that run whole training jobs (trainer/bench_train.cc), listed after bench/'s.
std::vector<bench::Benchmark> TrainerBenchmarks();
std::vector<bench::Benchmark> TrajlogBenchmarks();  // bench_trajlog.cc
void AddPlotCommand(CLI::App& app);
void AddTokenizeCommand(CLI::App& app);

// Sets torch's intra-op thread count: `threads` if > 0, else the host's cores divided by the
// processes of this job that share the host (from the MPI/Slurm local size). Returns it.
int ConfigureThreads(int threads);

// Keeps memory that libtorch frees for reuse instead of handing it back to the kernel: glibc
// serves blocks over 128 KiB (activations, gradients, logits) with mmap and returns them with
// munmap, so every training step page-faults its whole working set in again (measured: a third of
// a CPU learner step's time; `iranker bench learner`). Blocks under 1 GiB then come from the heap
// and stay mapped. Skipped when GLIBC_TUNABLES sets malloc tunables, so users keep control.
void RetainFreedMemory();

}  // namespace iranker
