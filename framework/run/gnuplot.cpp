#include "run/gnuplot.hpp"

#include <unistd.h>

#include <cstdlib>

#include "run/atomic_file.hpp"

namespace dynsim {
namespace fs = std::filesystem;

bool gnuplot_available() {
  return std::system("command -v gnuplot >/dev/null 2>&1") == 0;
}

namespace {
std::string output_lines(const std::string& target, int width, int height) {
  return "set terminal pngcairo size " + std::to_string(width) + "," + std::to_string(height) +
         " noenhanced font 'Sans,10'\nset output '" + target + "'\n";
}
}  // namespace

// gnuplot runs inside `dir`, so scripts use paths relative to it and still work after the run
// folder is moved.
bool render_png(const fs::path& dir, const std::string& name, const std::string& script,
                std::string& why, int width, int height) {
  if (!gnuplot_available()) {
    why = "gnuplot not found on PATH";
    return false;
  }
  const std::string png = name + ".png", tmp = png + ".tmp." + std::to_string(::getpid());
  const std::string gp = name + ".gp";
  write_file_atomic(dir / gp, output_lines(tmp, width, height) + script + "\nunset output\n");
  const std::string cmd = "cd '" + dir.string() + "' && gnuplot '" + gp + "' 2>'" + gp + ".err'";
  const int rc = std::system(cmd.c_str());
  std::error_code ec;
  if (rc != 0 || !fs::exists(dir / tmp, ec)) {
    why = "gnuplot failed (see " + (dir / (gp + ".err")).string() + ")";
    fs::remove(dir / tmp, ec);
    return false;
  }
  fs::remove(dir / (gp + ".err"), ec);
  // Keep the script with its final output name, for a user who wants to restyle the figure.
  write_file_atomic(dir / gp, output_lines(png, width, height) + script + "\nunset output\n");
  fs::rename(dir / tmp, dir / png, ec);
  return !ec;
}

}  // namespace dynsim
