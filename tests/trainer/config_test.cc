#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/error.h"
#include "trainer/config_io.h"
#include "trainer/yaml_visitors.h"

namespace iranker {
namespace {
namespace fs = std::filesystem;

// A toy options tree exercising every field type and constraint.
struct Inner {
  double lr = 1e-3;
  std::vector<int> sizes = {1, 2};
  template <class V>
  void Visit(V& v) {
    v.Field("lr", lr, "learning rate", Range(0.0, 1.0));
    v.Field("sizes", sizes, "sizes", AtLeast(1));
  }
};
struct Toy {
  int steps = 10;
  bool flag = false;
  std::string mode = "a";
  uint64_t seed = 3;
  std::vector<std::string> names = {"x"};
  Inner inner;
  template <class V>
  void Visit(V& v) {
    v.Field("steps", steps, "steps", AtLeast(1));
    v.Field("flag", flag, "flag");
    v.Field("mode", mode, "mode", OneOf({"a", "b"}));
    v.Field("seed", seed, "seed");
    v.Field("names", names, "names");
    v.Section("inner", inner, "inner");
    v.Check(steps != 13, "steps", "must not be 13");
  }
};

std::vector<std::string> DecodeErrors(const std::string& yaml, Toy* out = nullptr) {
  DecodeContext ctx;
  ctx.file = "toy.yaml";
  Toy t;
  YAML::Node root = YAML::Load(yaml);
  YamlDecoder d(root, "", &ctx);
  t.Visit(d);
  d.Finish();
  if (out) *out = t;
  return ctx.errors;
}

TEST(ConfigDecode, ReadsEveryType) {
  Toy t;
  auto errs = DecodeErrors(
      "steps: 5\nflag: true\nmode: b\nseed: 18446744073709551615\nnames: [p, q]\n"
      "inner:\n  lr: 0.5\n  sizes: [3, 4, 5]\n",
      &t);
  ASSERT_TRUE(errs.empty()) << errs[0];
  EXPECT_EQ(t.steps, 5);
  EXPECT_TRUE(t.flag);
  EXPECT_EQ(t.mode, "b");
  EXPECT_EQ(t.seed, 18446744073709551615ull);
  EXPECT_EQ(t.names, (std::vector<std::string>{"p", "q"}));
  EXPECT_DOUBLE_EQ(t.inner.lr, 0.5);
  EXPECT_EQ(t.inner.sizes, (std::vector<int>{3, 4, 5}));
}

TEST(ConfigDecode, MissingKeysKeepDefaults) {
  Toy t;
  EXPECT_TRUE(DecodeErrors("inner: {}\n", &t).empty());
  EXPECT_EQ(t.steps, 10);
  EXPECT_DOUBLE_EQ(t.inner.lr, 1e-3);
}

struct BadCase {
  const char* yaml;
  const char* expected;  // substring of the single error
};

class ConfigDecodeBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigDecodeBad, NamesFileLineKeyAndExpectation) {
  auto errs = DecodeErrors(GetParam().yaml);
  ASSERT_EQ(errs.size(), 1u) << (errs.empty() ? "no error" : errs[0]);
  EXPECT_NE(errs[0].find(GetParam().expected), std::string::npos) << errs[0];
}

INSTANTIATE_TEST_SUITE_P(
    AllKinds, ConfigDecodeBad,
    ::testing::Values(
        BadCase{"steps: 5\nstesp: 3\n", "toy.yaml:2:1: stesp: unknown key (did you mean 'steps'?)"},
        BadCase{"inner:\n  lrr: 0.1\n",
                "toy.yaml:2:3: inner.lrr: unknown key (did you mean 'inner.lr'?)"},
        BadCase{"zzzzzz: 1\n",
                "zzzzzz: unknown key (known keys: steps, flag, mode, seed, names, inner)"},
        BadCase{"steps: abc\n", "toy.yaml:1:8: steps: expected an integer, got 'abc'"},
        BadCase{"steps: 1.5\n", "steps: expected an integer, got '1.5'"},
        BadCase{"steps: 0\n", "steps: expected a value >= 1, got '0'"},
        BadCase{"steps: 99999999999\n", "steps: expected an integer"},
        BadCase{"flag: maybe\n", "flag: expected a boolean (true or false), got 'maybe'"},
        BadCase{"mode: c\n", "mode: expected one of 'a', 'b', got 'c'"},
        BadCase{"seed: -1\n", "seed: expected a non-negative integer"},
        BadCase{"names: x\n", "names: expected a list, got 'x'"},
        BadCase{"steps: [1]\n", "steps: expected a value, not a list"},
        BadCase{"inner: 3\n", "inner: expected a section (a map of keys), got '3'"},
        BadCase{"inner:\n  lr: 2\n", "toy.yaml:2:7: inner.lr: expected a value in [0, 1], got '2'"},
        BadCase{"inner:\n  sizes: [1, 0]\n", "inner.sizes: expected item 1: a value >= 1"},
        BadCase{"inner:\n  sizes: [1, x]\n", "inner.sizes: item 1: expected an integer"},
        BadCase{"steps: 13\n", "toy.yaml:1:8: steps: must not be 13"},
        BadCase{"steps: 2\nsteps: 3\n", "steps: duplicate key"},
        BadCase{"mode:\n", "mode: expected a string"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      return "case" + std::to_string(info.index);
    });

TEST(ConfigDecode, ReportsAllProblemsAtOnce) {
  auto errs = DecodeErrors("steps: x\nmode: z\nbogus: 1\n");
  EXPECT_EQ(errs.size(), 3u);
}

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("iranker_cfg_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& text) {
    std::string p = dir_ + "/c.yaml";
    std::ofstream(p) << text;
    return p;
  }
  std::string dir_;
};

TEST_F(ConfigFile, OverridesApplyAfterFile) {
  auto p = Write("run:\n  seed: 5\n  name: a\n");
  Config c = LoadConfig(p, {"run.seed=9", "run.threads=2"});
  EXPECT_EQ(c.run.seed, 9u);
  EXPECT_EQ(c.run.threads, 2);
  EXPECT_EQ(c.run.name, "a");
}

// learner.algorithm=sft trains on a teacher's targets or a log; RL on sampled responses.
TEST_F(ConfigFile, SftGoesWithTeacherTargetsOrALog) {
  auto p = Write("run:\n  seed: 5\n");
  auto message = [&](const std::vector<std::string>& overrides) -> std::string {
    try {
      LoadConfig(p, overrides);
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  };
  EXPECT_NE(message({"learner.algorithm=sft"}).find("actor.responses"), std::string::npos);
  EXPECT_NE(message({"actor.responses=labels", "actor.group_size=1"}).find("learner.algorithm=sft"),
            std::string::npos);
  EXPECT_NE(message({"learner.algorithm=sft", "actor.responses=labels"}).find("group_size"),
            std::string::npos);
  EXPECT_NE(message({"learner.algorithm=sft", "actor.responses=run", "actor.group_size=1"})
                .find("teacher_run"),
            std::string::npos);
  EXPECT_EQ(message({"learner.algorithm=sft", "actor.responses=labels", "actor.group_size=1"}), "");
  EXPECT_EQ(message({"learner.algorithm=sft", "data.replay=x.h5"}), "");
  EXPECT_EQ(message({"learner.algorithm=sft", "actor.responses=labels", "actor.group_size=1",
                     "learner.sft_loss=choice", "learner.sharding=full"}),
            "");
}

TEST_F(ConfigFile, BadOverrideNamesTheOverride) {
  auto p = Write("run:\n  seed: 5\n");
  try {
    LoadConfig(p, {"run.threads=-3"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "command-line override 'run.threads=-3': run.threads: expected a value >= 0"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(LoadConfig(p, {"run.seed"}), Error);      // no '='
  EXPECT_THROW(LoadConfig(p, {"run.seed.x=1"}), Error);  // a value used as a section
  EXPECT_THROW(LoadConfig(p, {"nosuch.section.key=1"}), Error);
}

TEST_F(ConfigFile, FileErrorsNameTheFile) {
  auto p = Write("run:\n  seed: [\n");
  try {
    LoadConfig(p, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p + ":"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not valid YAML"), std::string::npos) << e.what();
  }
  p = Write("- a\n- b\n");
  EXPECT_THROW(LoadConfig(p, {}), Error);
  try {
    LoadConfig(dir_ + "/missing.yaml", {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

TEST_F(ConfigFile, TokenCriticNeedsPpo) {
  auto p = Write("run:\n  seed: 1\n");
  try {
    LoadConfig(p, {"learner.critic_values=token"});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("critic_values"), std::string::npos) << e.what();
  }
  EXPECT_EQ(
      LoadConfig(p, {"learner.critic_values=token", "learner.algorithm=ppo"}).learner.critic_values,
      CriticValues::kToken);
}

TEST_F(ConfigFile, NcclWeightGroupNeedsCudaAndSaysWhichKeys) {
  auto p = Write("model:\n  device: cpu\ncomm:\n  weights:\n    group: nccl\n");
  try {
    LoadConfig(p, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("comm.weights.group=nccl needs model.device=cuda"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(LoadConfig(p, {"comm.weights.group=gloo"}), Error);
  EXPECT_EQ(LoadConfig(p, {"comm.weights.group=none"}).comm.weights.group,
            comm::WeightsGroup::kNone);
}

TEST_F(ConfigFile, ResolvedConfigRoundTrips) {
  auto p = Write("run:\n  seed: 5\n  name: rt\n");
  Config c = LoadConfig(p, {"run.log_level=warn"});
  WriteResolvedConfig(c, dir_ + "/run");
  Config again = LoadConfig(dir_ + "/run/config.yaml", {});
  EXPECT_EQ(ConfigToYaml(again), ConfigToYaml(c));
  EXPECT_EQ(again.run.log_level, "warn");
}

TEST(ConfigRepo, EveryShippedConfigLoads) {
  int n = 0;
  for (const auto& e :
       fs::recursive_directory_iterator(std::string(IRANKER_SOURCE_DIR) + "/configs")) {
    if (e.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(LoadConfig(e.path().string(), {})) << e.path();
    ++n;
  }
  EXPECT_GE(n, 1);
}

// docs/FIDELITY.md states, row by row, the value configs/paper keeps for each setting of the
// reference code; the shipped paper configs must hold exactly those values.
std::string Unquote(std::string v) {
  while (!v.empty() && (v.front() == '`' || v.front() == ' ')) v.erase(v.begin());
  while (!v.empty() && (v.back() == '`' || v.back() == ' ')) v.pop_back();
  return v;
}

bool SameValue(const std::string& want, const std::string& got) {
  try {
    size_t a = 0, b = 0;
    const double x = std::stod(want, &a), y = std::stod(got, &b);
    if (a == want.size() && b == got.size())
      return std::abs(x - y) <= 1e-12 * std::max(1.0, std::abs(x));
  } catch (const std::exception&) {
  }
  return want == got;
}

TEST(ConfigPaper, ValuesAreTheOnesFidelityStates) {
  const std::string root = IRANKER_SOURCE_DIR;
  std::ifstream md(root + "/docs/FIDELITY.md");
  ASSERT_TRUE(md) << "docs/FIDELITY.md";
  auto load = [&](const std::string& path) {
    return YAML::Load(ConfigToYaml(LoadConfig(root + "/" + path, {})));
  };
  std::map<std::string, YAML::Node> configs;
  for (const char* mode : {"iranker", "dranker"})
    configs[mode] = load("configs/paper/" + std::string(mode) + "_qwen2.5-3b.yaml");
  const YAML::Node ours = load("configs/iranker_qwen2.5-3b.yaml");  // the "Ours" column
  auto lookup = [](const YAML::Node& root_node, const std::string& key) {
    YAML::Node node = YAML::Clone(root_node);
    std::stringstream path(key);
    std::string part;
    while (std::getline(path, part, '.')) node.reset(node[part]);  // rebind, not assign
    return node;
  };
  std::string line;
  bool in_table = false;
  int checked = 0, rows = 0, checked_ours = 0;
  while (std::getline(md, line)) {
    if (line.rfind("| Setting | Reference", 0) == 0) in_table = true;
    if (!in_table) continue;
    if (line.empty() || line[0] != '|') {
      if (checked) break;
      continue;
    }
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    std::string cell;
    while (std::getline(ss, cell, '|')) cells.push_back(cell);
    if (cells.size() < 5) continue;
    const std::string key = Unquote(cells[2]);
    if (key.empty() || key == "Key" || key.find('.') == std::string::npos || key[0] == '-')
      continue;
    ++rows;
    // "`v`" for both configs, or "`a` (IRanker), `b` (DRanker)".
    std::map<std::string, std::string> want;
    const std::string values = cells[3];
    const size_t comma = values.find("(IRanker),");
    if (comma != std::string::npos) {
      want["iranker"] = Unquote(values.substr(0, values.find('(')));
      const std::string rest = values.substr(comma + 10);
      want["dranker"] = Unquote(rest.substr(0, rest.find('(')));
    } else {
      want["iranker"] = want["dranker"] = Unquote(values);
    }
    for (auto& [mode, root_node] : configs) {
      const YAML::Node node = lookup(root_node, key);
      ASSERT_TRUE(node.IsScalar()) << key;
      EXPECT_TRUE(SameValue(want[mode], node.as<std::string>()))
          << mode << " " << key << ": FIDELITY.md says " << want[mode] << ", the config has "
          << node.as<std::string>();
      ++checked;
    }
    const std::string ours_cell = Unquote(cells[4]);
    if (cells[4].find('`') != std::string::npos) {
      const YAML::Node node = lookup(ours, key);
      ASSERT_TRUE(node.IsScalar()) << key;
      EXPECT_TRUE(SameValue(ours_cell, node.as<std::string>()))
          << "ours " << key << ": FIDELITY.md says " << ours_cell << ", the config has "
          << node.as<std::string>();
      ++checked_ours;
    }
  }
  // Every row of the table: one removed, or no longer parsed, fails here (update after adding).
  EXPECT_EQ(rows, 31);
  EXPECT_EQ(checked, 2 * rows);
  EXPECT_EQ(checked_ours, rows - 1);  // all but the episode form ("same")
}

TEST(ConfigReference, ListsEveryKey) {
  std::string ref = ConfigReference();
  EXPECT_NE(ref.find("| `run.seed` | uint | `1` |"), std::string::npos) << ref;
  EXPECT_NE(ref.find("`run.log_level`"), std::string::npos);
}

}  // namespace
}  // namespace iranker
