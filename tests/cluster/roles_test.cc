#include "cluster/roles.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "base/error.h"
#include "cluster/progress_lease.h"

namespace iranker {
namespace {

// Sets environment variables for one test and restores them after.
class Env {
 public:
  using Vars = std::map<std::string, std::string>;
  explicit Env(Vars vars) {
    for (const char* v : {"OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE",
                          "MPI_LOCALRANKID", "MPI_LOCALNRANKS", "SLURM_LOCALID", "SLURM_STEP_ID",
                          "SLURM_STEP_TASKS_PER_NODE", "SLURM_NODEID", "SLURM_NTASKS_PER_NODE",
                          "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"}) {
      if (const char* old = std::getenv(v)) saved_[v] = old;
      ::unsetenv(v);
    }
    for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
    set_ = vars;
  }
  ~Env() {
    for (const auto& [k, v] : set_) ::unsetenv(k.c_str());
    for (const auto& [k, v] : saved_) ::setenv(k.c_str(), v.c_str(), 1);
  }

 private:
  std::map<std::string, std::string> saved_, set_;
};

TEST(Roles, LearnerLayoutForSeveralSplits) {
  for (int learners : {1, 2, 4, 8}) {
    ClusterOptions c;
    c.learners = learners;
    for (int r = 0; r < learners; ++r) {
      RankLayout l = LearnerLayout(r, learners, c, /*actors=*/6);
      EXPECT_EQ(l.role, Role::kLearner);
      EXPECT_EQ(l.learner_rank, r);
      EXPECT_EQ(l.actor_id, -1);
      EXPECT_EQ(l.learners, learners);
      EXPECT_EQ(l.actors, 6);
    }
  }
}

TEST(Roles, WorldSizeMustEqualLearners) {
  ClusterOptions c;
  c.learners = 4;
  try {
    LearnerLayout(0, 3, c, 2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("3 processes but cluster.learners=4"), std::string::npos)
        << e.what();
  }
}

TEST(Roles, ActorLayoutAndRange) {
  Env env(Env::Vars{});
  ClusterOptions c;
  c.learners = 2;
  RankLayout a = ActorLayout(3, c, 5);
  EXPECT_EQ(a.role, Role::kActor);
  EXPECT_EQ(a.actor_id, 3);
  EXPECT_EQ(a.learner_rank, -1);
  EXPECT_EQ(a.local_rank, 3);  // started by the supervisor: its id
  EXPECT_EQ(a.local_size, 5);
  EXPECT_THROW(ActorLayout(5, c, 5), Error);
  EXPECT_THROW(ActorLayout(-1, c, 5), Error);
}

TEST(Roles, LocalPlaceFromEachLauncher) {
  {
    Env env(Env::Vars{});
    LocalPlace p = DetectLocalPlace();
    EXPECT_EQ(p.rank, 0);
    EXPECT_EQ(p.size, 1);
  }
  {
    Env env(Env::Vars{{"OMPI_COMM_WORLD_LOCAL_RANK", "2"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}});
    LocalPlace p = DetectLocalPlace();
    EXPECT_EQ(p.rank, 2);
    EXPECT_EQ(p.size, 4);
  }
  {
    Env env(Env::Vars{{"MPI_LOCALRANKID", "1"}, {"MPI_LOCALNRANKS", "3"}});
    LocalPlace p = DetectLocalPlace();
    EXPECT_EQ(p.rank, 1);
    EXPECT_EQ(p.size, 3);
  }
  {
    // srun over 3 nodes with 2, 2, 1 tasks: this is node 2's only task.
    Env env(Env::Vars{{"SLURM_STEP_ID", "0"},
                      {"SLURM_LOCALID", "0"},
                      {"SLURM_NODEID", "2"},
                      {"SLURM_STEP_TASKS_PER_NODE", "2(x2),1"}});
    LocalPlace p = DetectLocalPlace();
    EXPECT_EQ(p.rank, 0);
    EXPECT_EQ(p.size, 1);
  }
  {
    Env env(Env::Vars{{"SLURM_STEP_ID", "0"},
                      {"SLURM_LOCALID", "1"},
                      {"SLURM_NODEID", "0"},
                      {"SLURM_STEP_TASKS_PER_NODE", "2(x2),1"}});
    EXPECT_EQ(DetectLocalPlace().size, 2);
    EXPECT_EQ(DetectLocalPlace().rank, 1);
  }
  {
    // A learner rank's layout carries it.
    Env env(Env::Vars{{"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}});
    ClusterOptions c;
    c.learners = 2;
    RankLayout l = LearnerLayout(1, 2, c, 1);
    EXPECT_EQ(l.local_rank, 1);
    EXPECT_EQ(l.local_size, 2);
  }
}

TEST(Roles, ExpandTasksPerNode) {
  EXPECT_EQ(ExpandTasksPerNode("2(x3),1"), (std::vector<int>{2, 2, 2, 1}));
  EXPECT_EQ(ExpandTasksPerNode("4"), (std::vector<int>{4}));
  EXPECT_EQ(ExpandTasksPerNode("1,3"), (std::vector<int>{1, 3}));
  EXPECT_TRUE(ExpandTasksPerNode("x").empty());
  EXPECT_TRUE(ExpandTasksPerNode("0").empty());
}

TEST(Roles, ThreadsShareTheHostsCores) {
  EXPECT_EQ(ThreadsPerProcess(0, 16, 4), 4);
  EXPECT_EQ(ThreadsPerProcess(0, 2, 3), 1);  // never 0
  EXPECT_EQ(ThreadsPerProcess(0, 8, 1), 8);
  EXPECT_EQ(ThreadsPerProcess(3, 16, 4), 3);  // run.threads wins
}

TEST(Roles, OneGpuPerProcessByLocalIndex) {
  EXPECT_EQ(DeviceForProcess("cpu", 3, 0, 8), "cpu");
  EXPECT_EQ(DeviceForProcess("cuda:5", 3, 0, 8), "cuda:5");
  EXPECT_EQ(DeviceForProcess("cuda", 3, 0, 8), "cuda:3");
  EXPECT_EQ(DeviceForProcess("cuda", 9, 0, 8), "cuda:1");
  EXPECT_EQ(DeviceForProcess("cuda", 1, 4, 8), "cuda:5");  // actors after 4 learners
  EXPECT_THROW(DeviceForProcess("cuda", 0, 0, 0), Error);
}

TEST(Roles, LauncherWorldSize) {
  {
    Env env(Env::Vars{});
    EXPECT_EQ(LauncherWorldSize(), 1);
  }
  {
    Env env(Env::Vars{{"OMPI_COMM_WORLD_SIZE", "3"}});
    EXPECT_EQ(LauncherWorldSize(), 3);
  }
  {
    Env env(Env::Vars{{"SLURM_STEP_ID", "0"}, {"SLURM_NTASKS", "5"}});
    EXPECT_EQ(LauncherWorldSize(), 5);
  }
}

TEST(Roles, LauncherRank) {
  {
    Env env(Env::Vars{});
    EXPECT_EQ(LauncherRank(), -1);
  }
  {
    Env env(Env::Vars{{"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "3"}});
    EXPECT_EQ(LauncherRank(), 2);
  }
  {
    Env env(Env::Vars{{"SLURM_STEP_ID", "1"}, {"SLURM_PROCID", "4"}});
    EXPECT_EQ(LauncherRank(), 4);
  }
  {
    Env env(Env::Vars{{"SLURM_PROCID", "4"}});  // the batch script itself, not a step
    EXPECT_EQ(LauncherRank(), -1);
  }
}

std::string TempRunDir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() /
           ("iranker_roles_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

TEST(Rendezvous, RoundTripAndWaiting) {
  const std::string dir = TempRunDir("rv");
  Rendezvous r{
      {"tcp://10.0.0.1:5000", "tcp://10.0.0.2:5001"}, "tcp://10.0.0.1:5002", "/runs/x/init", "abc"};
  // A reader that starts first waits for the file.
  Rendezvous got;
  std::thread reader([&] { got = ReadRendezvous(dir, 10); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  WriteRendezvous(dir, r);
  reader.join();
  EXPECT_EQ(got.streams, r.streams);
  EXPECT_EQ(got.weights, r.weights);
  EXPECT_EQ(got.init_dir, r.init_dir);
  EXPECT_EQ(got.session, r.session);
}

TEST(Rendezvous, AReaderWaitsPastItsTimeOutWhileLearnerRankZeroPreparesTheRun) {
  // Rank 0 writes the initial policy for longer than the reader's time-out, beating its progress
  // lease, then the rendezvous: the reader waits it out.
  const std::string dir = TempRunDir("rv_busy");
  Rendezvous r{{"ipc:///tmp/s0"}, "ipc:///tmp/w", "/runs/x/init", "s1"};
  std::thread rank0([&] {
    ProgressLease lease(ProgressLeaseDir(dir), 0);
    ProgressLease::Phase phase(&lease, "preparing the run directory and the initial policy");
    for (int i = 0; i < 250; ++i) {  // 2.5 s
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      lease.Beat();
    }
    WriteRendezvous(dir, r);
  });
  Rendezvous got;
  EXPECT_NO_THROW(got = ReadRendezvous(dir, 1.0));
  rank0.join();
  EXPECT_EQ(got.session, "s1");
}

TEST(Rendezvous, MissingAndMalformedAreClearErrors) {
  const std::string dir = TempRunDir("rv_bad");
  try {
    ReadRendezvous(dir, 0.3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDeadlineExceeded);
    EXPECT_NE(std::string(e.what()).find("rendezvous.json did not appear"), std::string::npos)
        << e.what();
  }
  std::ofstream(dir + "/rendezvous.json") << "{\"streams\": [\"tcp://a:1\"]}";
  try {
    ReadRendezvous(dir, 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rendezvous.json"), std::string::npos) << e.what();
  }
}

TEST(Endpoints, EachTransport) {
  const std::string dir = TempRunDir("ep");
  ClusterOptions c;
  c.transport = Transport::kIpc;
  EXPECT_EQ(StreamBindEndpoint(c, dir, 1).rfind("ipc://", 0), 0u);
  EXPECT_NE(StreamBindEndpoint(c, dir, 1).find("stream-1"), std::string::npos);
  c.transport = Transport::kTcp;
  EXPECT_EQ(StreamBindEndpoint(c, dir, 0), "tcp://127.0.0.1:0");
  c.transport = Transport::kInproc;
  EXPECT_EQ(StreamBindEndpoint(c, dir, 2), "inproc://iranker-stream-2");
  EXPECT_EQ(WeightsBindEndpoint(c, dir), "inproc://iranker-weights");
}

TEST(Endpoints, TcpBindsAnAddressNeverAName) {
  // ZeroMQ takes a name in a bind for an interface: host names become their addresses, which
  // the bound endpoint (and so the rendezvous) then carries to the actors of other hosts.
  EXPECT_EQ(TcpBindHost("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(TcpBindHost("10.231.9.11"), "10.231.9.11");
  EXPECT_EQ(TcpBindHost("::1"), "[::1]");
  EXPECT_EQ(TcpBindHost("lo"), "lo");  // an interface, bound by ZeroMQ
  EXPECT_EQ(TcpBindHost("localhost"), "127.0.0.1");
  try {
    const std::string own = TcpBindHost("*");  // this host's name, resolved
    EXPECT_NE(own.find('.'), std::string::npos) << own;
  } catch (const Error& e) {  // a machine whose name resolves to nothing: said so
    EXPECT_NE(std::string(e.what()).find("(this host's name, "), std::string::npos) << e.what();
  }
  ClusterOptions c;
  c.transport = Transport::kTcp;
  c.host = "localhost";
  EXPECT_EQ(StreamBindEndpoint(c, TempRunDir("ep_tcp"), 0), "tcp://127.0.0.1:0");
  try {
    TcpBindHost("no-such-host.invalid");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("cluster.host='no-such-host.invalid'"), std::string::npos)
        << e.what();
  }
}

TEST(Rendezvous, RunFinishedWhenTheResultIsNewerThanTheRendezvous) {
  namespace fs = std::filesystem;
  const std::string dir = TempRunDir("finished");
  EXPECT_FALSE(RunFinished(dir));
  WriteRendezvous(dir, {{"tcp://10.0.0.1:5000"}, "tcp://10.0.0.1:5002", "/init", "s1"});
  EXPECT_FALSE(RunFinished(dir));  // running
  std::ofstream(dir + "/result.json") << "{}\n";
  const auto t = fs::last_write_time(dir + "/rendezvous.json");
  fs::last_write_time(dir + "/result.json", t + std::chrono::seconds(1));
  EXPECT_TRUE(RunFinished(dir));  // completed
  // A resumed run's learners write a new rendezvous: the old result does not end its actors.
  fs::last_write_time(dir + "/rendezvous.json", t + std::chrono::seconds(2));
  EXPECT_FALSE(RunFinished(dir));
}

}  // namespace
}  // namespace iranker
