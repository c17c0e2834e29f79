// cluster/supervisor.h — starts worker processes (the actors) and restarts the ones that die.
//
// Learner rank 0 runs one: each actor is a separate process (`iranker actor ...`), outside the
// learners' MPI world, so an actor's death cannot abort the job. A child that exits non-zero or is
// killed by a signal is started again after restart_delay (a fresh incarnation: it reads the
// rendezvous file, takes the current weights and rejoins the stream); one that exits 0 has
// finished. After max_restarts restarts of one child the supervisor gives up on it and reports it.
// Output of child k goes to log_dir/<name>.log (appended).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"

namespace iranker {

struct ChildSpec {
  std::string name;               // e.g. "actor-0"; also the log file stem
  std::vector<std::string> argv;  // argv[0] = executable path
};

struct ChildStatus {
  std::string name;
  pid_t pid = -1;     // current process, -1 when not running
  int starts = 0;     // times started
  int last_exit = 0;  // last exit code, or 128 + signal
  bool finished = false, given_up = false;
};

class ProcessSupervisor {
 public:
  ProcessSupervisor(std::vector<ChildSpec> children, std::string log_dir, int max_restarts = 20,
                    double restart_delay_s = 1.0);
  ~ProcessSupervisor();  // Stop()

  void Start();  // starts every child and the monitoring thread
  // SIGTERM to every running child, SIGKILL after grace_s; no more restarts.
  void Stop(double grace_s = 5.0);
  std::vector<ChildStatus> Status() const;
  // A one-line account, e.g. "actor-0: pid 123, started 2x; actor-1: finished".
  std::string Describe() const;

 private:
  void Launch(size_t i) IR_REQUIRES(mu_);
  void Monitor();

  std::vector<ChildSpec> specs_;
  std::string log_dir_;
  int max_restarts_;
  double restart_delay_s_;
  mutable Mutex mu_;
  std::vector<ChildStatus> status_ IR_GUARDED_BY(mu_);
  // Steady seconds when a dead child may start again (0 = now).
  std::vector<double> restart_at_ IR_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace iranker
