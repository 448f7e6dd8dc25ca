// The study layer's pieces that need no run: the identity of a run (the hash of its resolved
// scenario), the longest-first schedule over ranks, and the seed lists.
#include <catch2/catch.hpp>

#include "common/errors.hpp"
#include "study/study.hpp"
#include "support/helpers.hpp"

using namespace dynsim;

TEST_CASE("a run's hash ignores comments, layout and threads, not the experiment", "[study]") {
  const std::string base =
      "[scenario]\nname = \"a\"\nseed = 1\nthreads = 2\n\n[train]\nepochs = 3\nlr = 0.01\n";
  const std::string same =
      "# Resolved by dynsim\n[train]\nlr = 0.01\nepochs = 3\n"
      "[scenario]\nthreads = 1\nseed = 1\nname = \"a\"\n";
  CHECK(study::scenario_hash(base) == study::scenario_hash(same));
  CHECK(study::scenario_hash(base).size() == 16);
  for (const auto& other :
       {std::string("[scenario]\nname = \"a\"\nseed = 2\nthreads = 2\n[train]\nepochs = 3\n"
                    "lr = 0.01\n"),
        std::string("[scenario]\nname = \"a\"\nseed = 1\nthreads = 2\n[train]\nepochs = 3\n"
                    "lr = 0.02\n")}) {
    CHECK(study::scenario_hash(other) != study::scenario_hash(base));
  }
}

TEST_CASE("runs go to ranks longest first, each to the least loaded", "[study]") {
  const auto s = study::longest_first({1, 5, 3, 3}, 2);
  CHECK(s.order == std::vector<std::size_t>{1, 2, 3, 0});
  // 5 -> rank 0; 3 -> rank 1; 3 -> rank 1 (load 3 < 5); 1 -> rank 0 (5 < 6).
  CHECK(s.owner == std::vector<int>{0, 0, 1, 1});
  const auto one = study::longest_first({2, 1, 4}, 1);
  CHECK(one.owner == std::vector<int>{0, 0, 0});
  CHECK(one.order == std::vector<std::size_t>{2, 0, 1});
  // Equal costs keep the plan's order and go round the ranks.
  const auto even = study::longest_first({1, 1, 1, 1, 1}, 3);
  CHECK(even.order == std::vector<std::size_t>{0, 1, 2, 3, 4});
  CHECK(even.owner == std::vector<int>{0, 1, 2, 0, 1});
}

TEST_CASE("seed lists take ranges and lists and refuse the rest", "[study]") {
  CHECK(study::parse_seeds("1-3,7") == std::vector<std::int64_t>{1, 2, 3, 7});
  CHECK(study::parse_seeds("4") == std::vector<std::int64_t>{4});
  for (const char* bad : {"", "a", "3-1", "1,,x"}) {
    INFO(bad);
    CHECK(test::input_error_of([&] { study::parse_seeds(bad); }).find("--seeds") !=
          std::string::npos);
  }
}
