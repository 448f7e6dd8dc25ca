// Figures through gnuplot: the script is kept beside the PNG (figures/NAME.gp) so a user can
// restyle it, and the PNG is rendered to a temporary name and renamed.
#pragma once

#include <filesystem>
#include <string>

namespace dynsim {

bool gnuplot_available();

// Renders `script` (which must not set the terminal or output) to dir/NAME.png. Returns false,
// with the reason in `why`, when gnuplot is missing or fails; figures never fail a run.
bool render_png(const std::filesystem::path& dir, const std::string& name,
                const std::string& script, std::string& why, int width = 900, int height = 600);

}  // namespace dynsim
