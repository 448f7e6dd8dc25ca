# dynsim_add_plugin(<name> SOURCES <files...>)
#
# Builds a plugin shared library `dynsim_<name>.so` against the dynsim SDK. The host finds
# plugins by that file name in its search path (build tree, install prefix, DYNSIM_PLUGIN_PATH,
# a scenario's [plugins] paths). Only the SDK's headers are used; nothing of the host is linked.
function(dynsim_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "dynsim_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE dynsim::sdk)
  target_compile_features(${name} PRIVATE cxx_std_20)
  # Only the entry point is exported; everything else stays private to the plugin.
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "dynsim_${name}"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  endif()
endfunction()
