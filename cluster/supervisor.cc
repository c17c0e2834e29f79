#include "cluster/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "base/error.h"
#include "base/log.h"

namespace iranker {
namespace {
double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

ProcessSupervisor::ProcessSupervisor(std::vector<ChildSpec> children, std::string log_dir,
                                     int max_restarts, double restart_delay_s)
    : specs_(std::move(children)),
      log_dir_(std::move(log_dir)),
      max_restarts_(max_restarts),
      restart_delay_s_(restart_delay_s) {
  status_.resize(specs_.size());
  restart_at_.assign(specs_.size(), 0);
  for (size_t i = 0; i < specs_.size(); ++i) status_[i].name = specs_[i].name;
  std::error_code ec;
  std::filesystem::create_directories(log_dir_, ec);
  if (ec) Fail(ErrorCode::kInvalidArgument, "cannot create ", log_dir_, ": ", ec.message());
}

ProcessSupervisor::~ProcessSupervisor() { Stop(); }

void ProcessSupervisor::Launch(size_t i) {
  const ChildSpec& spec = specs_[i];
  const std::string log = log_dir_ + "/" + spec.name + ".log";
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0)
    Fail(ErrorCode::kUnavailable, "fork for ", spec.name, " failed: ", std::strerror(errno));
  if (pid == 0) {
    // Child: its own process group (a terminal's Ctrl-C reaches the learner, which stops us),
    // output to the log, no inherited MPI identity. SIGTERM when the supervising learner dies,
    // even by SIGKILL, so no orphaned actor keeps a node busy (it would otherwise wait out
    // cluster.weights_timeout_s); the forking thread (main or the monitor) lives as long as the
    // supervisor, whose Stop() ends the children anyway.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // the learner died before prctl took effect
    ::setpgid(0, 0);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    for (const char* var :
         {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK",
          "OMPI_COMM_WORLD_LOCAL_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
      ::unsetenv(var);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "exec %s failed: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  status_[i].pid = pid;
  status_[i].starts++;
  IR_LOG_INFO("supervisor: started {} (pid {}, start {}), log {}", spec.name, pid,
              status_[i].starts, log);
}

void ProcessSupervisor::Start() {
  {
    MutexLock lock(mu_);
    for (size_t i = 0; i < specs_.size(); ++i) Launch(i);
  }
  thread_ = std::thread([this] { Monitor(); });
}

void ProcessSupervisor::Monitor() {
  while (!stop_) {
    {
      MutexLock lock(mu_);
      for (size_t i = 0; i < specs_.size(); ++i) {
        ChildStatus& st = status_[i];
        if (st.pid > 0) {
          int ws = 0;
          const pid_t r = ::waitpid(st.pid, &ws, WNOHANG);
          if (r != st.pid) continue;
          st.pid = -1;
          st.last_exit =
              WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
          if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) {
            st.finished = true;
            continue;
          }
          if (stop_) continue;
          if (st.starts > max_restarts_) {
            st.given_up = true;
            IR_LOG_ERROR(
                "supervisor: {} died (exit {}) after {} starts; not restarting (see {}/{}.log)",
                st.name, st.last_exit, st.starts, log_dir_, st.name);
            continue;
          }
          IR_LOG_WARN("supervisor: {} died (exit {}); restarting in {} s (see {}/{}.log)", st.name,
                      st.last_exit, restart_delay_s_, log_dir_, st.name);
          restart_at_[i] = Now() + restart_delay_s_;
        } else if (!st.finished && !st.given_up && restart_at_[i] > 0 && Now() >= restart_at_[i] &&
                   !stop_) {
          restart_at_[i] = 0;
          Launch(i);
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void ProcessSupervisor::Stop(double grace_s) {
  if (stop_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  if (thread_.joinable()) thread_.join();
  MutexLock lock(mu_);
  for (auto& st : status_)
    if (st.pid > 0) ::kill(st.pid, SIGTERM);
  const double deadline = Now() + grace_s;
  for (auto& st : status_) {
    while (st.pid > 0) {
      int ws = 0;
      if (::waitpid(st.pid, &ws, WNOHANG) == st.pid) {
        st.pid = -1;
        st.last_exit = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
        break;
      }
      if (Now() > deadline) {
        ::kill(st.pid, SIGKILL);
        ::waitpid(st.pid, &ws, 0);
        st.pid = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

std::vector<ChildStatus> ProcessSupervisor::Status() const {
  MutexLock lock(mu_);
  return status_;
}

std::string ProcessSupervisor::Describe() const {
  std::string out;
  for (const auto& st : Status()) {
    if (!out.empty()) out += "; ";
    out += st.name + ": ";
    if (st.finished)
      out += "finished";
    else if (st.given_up)
      out += "given up (exit " + std::to_string(st.last_exit) + ")";
    else if (st.pid > 0)
      out += "pid " + std::to_string(st.pid);
    else
      out += "restarting";
    out += ", started " + std::to_string(st.starts) + "x";
  }
  return out;
}

}  // namespace iranker
