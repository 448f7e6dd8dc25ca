#include "run/run_folder.hpp"

#include "common/errors.hpp"
#include "run/atomic_file.hpp"
#include "run/provenance.hpp"

namespace dynsim {
namespace fs = std::filesystem;

RunFolder RunFolder::create(const fs::path& out, const std::string& name) {
  RunFolder r;
  r.dir_ = out.empty() ? fs::path("runs") / (name + "-" + utc_timestamp(true)) : out;
  std::error_code ec;
  if (fs::exists(r.dir_, ec) && !fs::is_empty(r.dir_, ec))
    throw InputError("output folder " + r.dir_.string() +
                     " exists and is not empty; choose another --out or remove it");
  fs::create_directories(r.figures(), ec);
  if (ec) throw InputError("cannot create output folder " + r.dir_.string() + ": " + ec.message());
  return r;
}

RunFolder RunFolder::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir / "checkpoint", ec))
    throw InputError(dir.string() + ": no checkpoint to resume from (checkpoint/ is missing)");
  RunFolder r;
  r.dir_ = dir;
  fs::create_directories(r.figures(), ec);
  return r;
}

RunFolder RunFolder::discard(const fs::path& dir) {
  RunFolder r;
  r.dir_ = dir;
  r.writes_ = false;
  return r;
}

void RunFolder::write_text(const std::string& file, const std::string& text) const {
  if (writes_) write_file_atomic(path(file), text);
}

void RunFolder::write_json(const std::string& file, const nlohmann::json& j) const {
  if (writes_) write_file_atomic(path(file), j.dump(2) + "\n");
}

}  // namespace dynsim
