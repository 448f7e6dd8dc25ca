// The plugin skeleton of sdk/templates/model, as (file name, text) pairs; generated at configure
// time into the build folder (framework/CMakeLists.txt).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dynsim {

const std::vector<std::pair<std::string, std::string>>& model_template();

}  // namespace dynsim
