// `idx`: labelled images from IDX files (the MNIST format), plain or gzip-compressed. Names
// `mnist` and `fashion_mnist` resolve to the data folder that scripts/setup.sh fills; explicit
// paths override. Every header field is checked, and any problem is an error naming the file.
#include <zlib.h>

#include <algorithm>
#include <dynsim/sdk.hpp>
#include <filesystem>
#include <memory>
#include <numeric>

namespace {

namespace fs = std::filesystem;

struct IdxFile {
  std::vector<std::int64_t> dims;
  std::vector<unsigned char> data;
};

// Reads an unsigned-byte IDX file with `rank` dimensions. zlib reads plain files as they are.
IdxFile read_idx(const fs::path& file, int rank) {
  const std::string name = file.string();
  if (!fs::is_regular_file(file))
    throw dynsim::InputError(name +
                             ": IDX file not found (run scripts/setup.sh to fetch the "
                             "datasets, or give the path)");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(name.c_str(), "rb"), gzclose);
  if (!gz) throw dynsim::InputError(name + ": cannot open");
  auto read = [&](void* buf, std::size_t n, const char* what) {
    const int got = gzread(gz.get(), buf, static_cast<unsigned>(n));
    if (got < 0 || static_cast<std::size_t>(got) != n)
      throw dynsim::InputError(name + ": truncated or corrupt while reading " + what + " (" +
                               std::to_string(std::max(got, 0)) + " of " + std::to_string(n) +
                               " bytes)");
  };
  unsigned char magic[4];
  read(magic, 4, "the magic number");
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] != rank)
    throw dynsim::InputError(name + ": not an unsigned-byte IDX file of rank " +
                             std::to_string(rank) + " (magic bytes " + std::to_string(magic[0]) +
                             " " + std::to_string(magic[1]) + " " + std::to_string(magic[2]) + " " +
                             std::to_string(magic[3]) + ")");
  IdxFile f;
  // At most 2^40 bytes of data (a terabyte): no product of dimensions can overflow on the way.
  constexpr std::int64_t kMaxBytes = std::int64_t{1} << 40;
  std::int64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    unsigned char b[4];
    read(b, 4, "the dimensions");
    const std::int64_t d = (std::int64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    if (d <= 0 || d > (1 << 28) || count > kMaxBytes / d)
      throw dynsim::InputError(name + ": implausible dimension " + std::to_string(d) +
                               " in the header");
    f.dims.push_back(d);
    count *= d;
  }
  // Read in pieces, growing as data arrives: a header that promises more than the file holds
  // fails as truncated after reading what is there, instead of allocating what it claims.
  constexpr std::int64_t kPiece = std::int64_t{1} << 26;
  for (std::int64_t done = 0; done < count;) {
    const std::int64_t n = std::min(kPiece, count - done);
    f.data.resize(static_cast<std::size_t>(done + n));
    read(f.data.data() + done, static_cast<std::size_t>(n), "the data");
    done += n;
  }
  unsigned char extra;
  if (gzread(gz.get(), &extra, 1) != 0)
    throw dynsim::InputError(name + ": longer than its header says (" + std::to_string(count) +
                             " data bytes)");
  return f;
}

template <class S>
class Idx final : public dynsim::Dataset<S> {
 public:
  static dynsim::OptionSpecs options() {
    return {
        dynsim::opt::string("name",
                            "mnist, fashion_mnist (from the data folder), or custom "
                            "(give the four paths)")
            .def("mnist")
            .one_of({"mnist", "fashion_mnist", "custom"}),
        dynsim::opt::string("train_images", "path overriding the named dataset's").def(""),
        dynsim::opt::string("train_labels", "path overriding the named dataset's").def(""),
        dynsim::opt::string("test_images", "path overriding the named dataset's").def(""),
        dynsim::opt::string("test_labels", "path overriding the named dataset's").def(""),
        dynsim::opt::integer("n_train", "use this many training items (0: all)")
            .def(std::int64_t{0})
            .at_least(0)
            .at_most(1e9),
        dynsim::opt::integer("n_test", "use this many test items (0: all)")
            .def(std::int64_t{0})
            .at_least(0)
            .at_most(1e9),
        dynsim::opt::integer("subset_seed",
                             "0: the first n items; otherwise a random n chosen "
                             "with this seed")
            .def(std::int64_t{0})
            .at_least(0),
    };
  }

  Idx(const dynsim::Options& o, const dynsim::Context& ctx) : o_(o) {
    const std::string& name = o.string("name");
    const fs::path dir = fs::path(ctx.data_dir) / (name == "mnist" ? "mnist" : "fashion-mnist");
    const bool gz = name == "fashion_mnist";
    auto path = [&](const char* key, const char* stem) -> fs::path {
      const std::string& given = o.string(key);
      if (!given.empty()) {
        const fs::path p(given);
        return p.is_absolute() ? p : fs::path(ctx.scenario_dir) / p;
      }
      if (name == "custom") o.fail(key, "name = \"custom\" needs all four paths");
      return dir / (std::string(stem) + (gz ? ".gz" : ""));
    };
    files_[0] = path("train_images", "train-images-idx3-ubyte");
    files_[1] = path("train_labels", "train-labels-idx1-ubyte");
    files_[2] = path("test_images", "t10k-images-idx3-ubyte");
    files_[3] = path("test_labels", "t10k-labels-idx1-ubyte");
    // Read the test split now: a missing or malformed file is then an input error before
    // anything runs, and it fixes the dimension and the class count.
    test_ = read_split(2, o.integer("n_test"), kTestIdBase);
  }

  dynsim::Index dim() const override { return test_.x.rows(); }
  int classes() const override { return classes_; }
  std::array<int, 2> image_shape() const override { return shape_; }

  dynsim::Items<S> load(dynsim::Split which) override {
    if (which == dynsim::Split::test) return test_;
    return read_split(0, o_.integer("n_train"), 0);
  }

 private:
  static constexpr std::uint64_t kTestIdBase = std::uint64_t{1} << 40;

  dynsim::Items<S> read_split(int first, std::int64_t limit, std::uint64_t id_base) {
    const IdxFile img = read_idx(files_[first], 3), lab = read_idx(files_[first + 1], 1);
    if (img.dims[0] != lab.dims[0])
      throw dynsim::InputError(files_[first].string() + " has " + std::to_string(img.dims[0]) +
                               " images but " + files_[first + 1].string() + " has " +
                               std::to_string(lab.dims[0]) + " labels");
    const std::array<int, 2> shape{static_cast<int>(img.dims[1]), static_cast<int>(img.dims[2])};
    if (shape_[0] != 0 && shape != shape_)
      throw dynsim::InputError(files_[first].string() + ": images are " + std::to_string(shape[0]) +
                               "x" + std::to_string(shape[1]) + ", the other split's " +
                               std::to_string(shape_[0]) + "x" + std::to_string(shape_[1]));
    shape_ = shape;
    const std::int64_t n = img.dims[0], pixels = img.dims[1] * img.dims[2];
    std::vector<std::int64_t> pick(static_cast<std::size_t>(n));
    std::iota(pick.begin(), pick.end(), 0);
    if (limit > 0 && limit < n) {
      if (const auto seed = o_.integer("subset_seed"); seed > 0) {
        const dynsim::Random rng(static_cast<std::uint64_t>(seed), dynsim::Stream::data);
        std::vector<std::pair<double, std::int64_t>> keyed;
        for (auto i : pick)
          keyed.emplace_back(rng.uniform({0, 0, id_base + static_cast<std::uint64_t>(i), 0}, 0), i);
        std::sort(keyed.begin(), keyed.end());
        for (std::size_t j = 0; j < pick.size(); ++j) pick[j] = keyed[j].second;
        pick.resize(static_cast<std::size_t>(limit));
        std::sort(pick.begin(), pick.end());
      } else {
        pick.resize(static_cast<std::size_t>(limit));
      }
    }
    dynsim::Items<S> items;
    items.x.resize(pixels, static_cast<dynsim::Index>(pick.size()));
    for (std::size_t j = 0; j < pick.size(); ++j) {
      const unsigned char* src = img.data.data() + pick[j] * pixels;
      for (std::int64_t p = 0; p < pixels; ++p)
        items.x(p, static_cast<dynsim::Index>(j)) = static_cast<S>(src[p]) / S(255);
      const int label = lab.data[static_cast<std::size_t>(pick[j])];
      if (label > 99)
        throw dynsim::InputError(files_[first + 1].string() + ": label " + std::to_string(label) +
                                 " of item " + std::to_string(pick[j]) + " is implausible");
      // The class count comes from the test split alone (read first, in the constructor), so it
      // is fixed before any training item is seen; the host refuses a training label >= it.
      if (first == 2) classes_ = std::max(classes_, label + 1);
      items.labels.push_back(label);
      items.ids.push_back(id_base + static_cast<std::uint64_t>(pick[j]));
    }
    return items;
  }

  dynsim::Options o_;
  fs::path files_[4];
  dynsim::Items<S> test_;
  std::array<int, 2> shape_{0, 0};
  int classes_ = 0;
};

}  // namespace

DYNSIM_PLUGIN(Idx, "idx", "1.0.0", "labelled images from IDX files: MNIST, Fashion-MNIST, custom")
