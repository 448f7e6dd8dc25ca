// The `idx` dataset plugin on small IDX files written here, plain and gzip-compressed: values,
// labels, ids, subsets, and an error naming the file for each kind of bad input.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "plugin_host/registry.hpp"
#include "support/helpers.hpp"

using namespace dynsim;

namespace {

std::string idx_bytes(unsigned char rank, const std::vector<int>& dims,
                      const std::vector<unsigned char>& data) {
  std::string s = {0, 0, 8, static_cast<char>(rank)};
  for (int d : dims)
    for (int shift : {24, 16, 8, 0}) s.push_back(static_cast<char>((d >> shift) & 0xff));
  s.append(data.begin(), data.end());
  return s;
}

std::string write_plain(const std::string& name, const std::string& bytes) {
  const std::string p = test::temp_dir() + "/" + name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

std::string write_gz(const std::string& name, const std::string& bytes) {
  const std::string p = test::temp_dir() + "/" + name;
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  return p;
}

// Five 2x3 images whose pixel k of image i is 10 i + k; labels 0 1 2 1 0.
std::vector<unsigned char> pixels() {
  std::vector<unsigned char> v;
  for (int i = 0; i < 5; ++i)
    for (int k = 0; k < 6; ++k) v.push_back(static_cast<unsigned char>(10 * i + k));
  return v;
}

struct Files {
  std::string train_images, train_labels, test_images, test_labels;
  std::string toml() const {
    return "name = \"custom\"\ntrain_images = \"" + train_images + "\"\ntrain_labels = \"" +
           train_labels + "\"\ntest_images = \"" + test_images + "\"\ntest_labels = \"" +
           test_labels + "\"\n";
  }
};

Files good_files() {
  return {write_plain("tr-img", idx_bytes(3, {5, 2, 3}, pixels())),
          write_plain("tr-lab", idx_bytes(1, {5}, {0, 1, 2, 1, 0})),
          write_gz("te-img.gz", idx_bytes(3, {5, 2, 3}, pixels())),
          write_gz("te-lab.gz", idx_bytes(1, {5}, {0, 1, 2, 1, 0}))};
}

std::unique_ptr<Dataset<double>> open(const std::string& toml) {
  static Registry reg = [] {
    Registry r;
    r.load_directories({DYNSIM_PLUGIN_DIR});
    return r;
  }();
  const PluginRecord& rec = reg.find(PluginKind::dataset, "idx");
  auto obj = rec.factory->create(Precision::f64, test::options_from(rec.factory->options(), toml),
                                 Context{});
  return std::unique_ptr<Dataset<double>>(static_cast<Dataset<double>*>(obj.release()));
}

std::string idx_error(const std::string& toml) {
  try {
    open(toml)->load(Split::train);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("idx reads plain and gzip files into scaled columns with labels and ids", "[idx]") {
  const Files f = good_files();
  auto d = open(f.toml());
  CHECK(d->dim() == 6);
  CHECK(d->classes() == 3);
  CHECK(d->image_shape() == std::array<int, 2>{2, 3});
  for (Split split : {Split::train, Split::test}) {
    const Items<double> it = d->load(split);
    REQUIRE(it.x.cols() == 5);
    CHECK(it.x(4, 3) == Approx(34.0 / 255));
    CHECK(it.labels == std::vector<int>{0, 1, 2, 1, 0});
    CHECK(it.ids[2] == (split == Split::train ? 2u : (std::uint64_t{1} << 40) + 2));
  }
  const Items<double> first = open(f.toml() + "n_train = 3\n")->load(Split::train);
  CHECK(first.ids == std::vector<std::uint64_t>{0, 1, 2});
  const Items<double> picked =
      open(f.toml() + "n_train = 3\nsubset_seed = 4\n")->load(Split::train);
  CHECK(picked.ids.size() == 3);
  CHECK(std::is_sorted(picked.ids.begin(), picked.ids.end()));
  CHECK(picked.x(0, 1) == Approx(10.0 * double(picked.ids[1]) / 255));
}

TEST_CASE("idx refuses bad files naming them", "[idx]") {
  Files f = good_files();
  Files bad = f;
  bad.train_images = write_plain("bad-magic", idx_bytes(2, {5, 6}, pixels()));
  CHECK_THAT(idx_error(bad.toml()), Catch::Contains("bad-magic") && Catch::Contains("rank 3"));
  bad = f;
  bad.train_labels = write_plain("short-labels", idx_bytes(1, {4}, {0, 1, 2, 1}));
  CHECK_THAT(idx_error(bad.toml()),
             Catch::Contains("has 5 images but") && Catch::Contains("short-labels has 4 labels"));
  bad = f;
  auto cut = pixels();
  cut.resize(20);
  bad.train_images = write_plain("truncated", idx_bytes(3, {5, 2, 3}, cut));
  CHECK_THAT(idx_error(bad.toml()), Catch::Contains("truncated: truncated or corrupt"));
  bad = f;
  bad.test_images = test::temp_dir() + "/absent";
  CHECK_THAT(idx_error(bad.toml()), Catch::Contains("absent: IDX file not found"));
  bad = f;
  bad.train_images = write_plain("long", idx_bytes(3, {5, 2, 3}, pixels()) + "xx");
  CHECK_THAT(idx_error(bad.toml()), Catch::Contains("long: longer than its header says"));
  CHECK_THAT(idx_error("name = \"custom\"\n"), Catch::Contains("needs all four paths"));
}

TEST_CASE("idx headers that promise more than the file holds allocate nothing", "[idx]") {
  Files f = good_files();
  Files bad = f;
  // 2^28 x 2^28 x 2^28: the product overflows 64 bits; refused from the header alone.
  bad.train_images = write_plain("overflow", idx_bytes(3, {1 << 28, 1 << 28, 1 << 28}, pixels()));
  CHECK_THAT(idx_error(bad.toml()),
             Catch::Contains("overflow") && Catch::Contains("implausible dimension"));
  // 10^6 x 28 x 28 claimed (784 MB) by a 58-byte file: truncated after the bytes that exist.
  bad = f;
  bad.train_images = write_gz("liar.gz", idx_bytes(3, {1000000, 28, 28}, pixels()));
  CHECK_THAT(idx_error(bad.toml()), Catch::Contains("liar.gz: truncated or corrupt"));
}

TEST_CASE("training labels outside the test split's classes are refused before a run",
          "[idx][cli]") {
  // The test split has classes 0-2 (K = 3); a training label 7 would index past the targets.
  Files f = good_files();
  f.train_labels = write_plain("tr-lab-7", idx_bytes(1, {5}, {0, 1, 7, 1, 0}));
  const std::string scenario = test::temp_file("labels.toml", R"([scenario]
precision = "f64"

[dataset]
plugin = "idx"
)" + f.toml() + R"(
[model]
plugin = "cvfr_hill"

[loss]
plugin = "mse_state"

[integrator]
method = "euler"
dt = 0.1
steps = 5

[train]
epochs = 1
)");
  for (const std::string& cmd :
       std::vector<std::string>{"validate ", "run --out " + test::temp_dir() + "/labels-run "}) {
    const auto r = test::run_dynsim(cmd + scenario);
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("has label 7, outside the dataset's 3 classes") != std::string::npos);
    CHECK(r.output.find("what()") == std::string::npos);
  }
}
