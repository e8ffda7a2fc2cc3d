# KessanPluginSdk.cmake: kessan_add_plugin(), shared by the in-tree build
# (plugins/CMakeLists.txt) and the installed package (find_package(KessanPluginSdk)).
#
# Before including this file set:
#   KESSAN_PLUGIN_SDK_INCLUDE_DIR  directory holding kessan/plugin.h
#   KESSAN_PLUGIN_SDK_PROTO_DIR    directory holding kessan/v1/*.proto
#
# kessan_add_plugin(<name> SOURCES <files>... [OUTPUT_DIRECTORY <dir>])
#   builds <name>.so, a MODULE library exporting only kessan_plugin_entry,
#   as target kessan_plugin_<name>. The kessan.v1 messages are compiled
#   into the plugin (target kessan_plugin_messages, built once per project).
include_guard(GLOBAL)

find_package(Protobuf REQUIRED)

function(_kessan_plugin_messages)
  if(TARGET kessan_plugin_messages)
    return()
  endif()
  set(_gen ${CMAKE_BINARY_DIR}/kessan_plugin_messages_gen)
  set(_protos)
  set(_outputs)
  foreach(n types model feed scenario plugin)
    list(APPEND _protos ${KESSAN_PLUGIN_SDK_PROTO_DIR}/kessan/v1/${n}.proto)
    list(APPEND _outputs ${_gen}/kessan/v1/${n}.pb.cc ${_gen}/kessan/v1/${n}.pb.h)
  endforeach()
  if(Protobuf_PROTOC_EXECUTABLE)
    set(_protoc ${Protobuf_PROTOC_EXECUTABLE})
  else()
    set(_protoc protobuf::protoc)
  endif()
  file(MAKE_DIRECTORY ${_gen})
  add_custom_command(OUTPUT ${_outputs}
    COMMAND ${_protoc} --cpp_out=${_gen} -I${KESSAN_PLUGIN_SDK_PROTO_DIR} ${_protos}
    DEPENDS ${_protos}
    COMMENT "Generating the kessan.v1 messages for plugins")
  add_library(kessan_plugin_messages STATIC ${_outputs})
  set_target_properties(kessan_plugin_messages PROPERTIES
    POSITION_INDEPENDENT_CODE ON CXX_VISIBILITY_PRESET hidden UNITY_BUILD OFF)
  target_include_directories(kessan_plugin_messages PUBLIC ${_gen} ${KESSAN_PLUGIN_SDK_INCLUDE_DIR})
  target_link_libraries(kessan_plugin_messages PUBLIC protobuf::libprotobuf)
  target_compile_features(kessan_plugin_messages PUBLIC cxx_std_17)
endfunction()

function(kessan_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  _kessan_plugin_messages()
  set(target kessan_plugin_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX "" OUTPUT_NAME ${name}
    CXX_VISIBILITY_PRESET hidden C_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  endif()
  target_link_libraries(${target} PRIVATE kessan_plugin_messages)
  # Resolve every symbol at link time, so a plugin with a missing symbol
  # fails to build rather than to load.
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
endfunction()
