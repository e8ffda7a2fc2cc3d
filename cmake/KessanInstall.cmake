# `cmake --install <build> --prefix P`: what goes where (docs/embedding.md).
#   runtime: bin/kessand, bin/kessan, libexec/kessan/kessan-plugin-worker,
#            lib/kessan/plugins/*.so, lib/libkessan*.so.0
#   dev:     include/kessan (server, client and the kessan/v1 messages),
#            the .so links, lib/cmake/Kessan, lib/pkgconfig/kessan*.pc
#   sdk:     the plugin SDK and share/kessan/proto (plugins/CMakeLists.txt)
include(CMakePackageConfigHelpers)

install(TARGETS kessan_messages kessan_shared kessan_client_shared EXPORT KessanTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev)
install(TARGETS kessan_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)

# Public headers: the server's and the client's, and the generated messages
# (no gRPC stubs: the API has no gRPC type).
install(DIRECTORY ${CMAKE_SOURCE_DIR}/server/include/kessan ${CMAKE_SOURCE_DIR}/clients/cpp/include/kessan
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${CMAKE_BINARY_DIR}/proto/gen/kessan/v1 DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kessan
  COMPONENT dev FILES_MATCHING PATTERN "*.pb.h" PATTERN "*.grpc.pb.h" EXCLUDE)

# find_package(Kessan): Kessan::server, Kessan::client, Kessan::messages.
set(_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/Kessan)
install(EXPORT KessanTargets NAMESPACE Kessan:: DESTINATION ${_cmake_dir} COMPONENT dev)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/KessanConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/KessanConfig.cmake INSTALL_DESTINATION ${_cmake_dir})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/KessanConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/KessanConfig.cmake ${CMAKE_BINARY_DIR}/cmake/KessanConfigVersion.cmake
  DESTINATION ${_cmake_dir} COMPONENT dev)

# pkg-config: kessan (server) and kessan-client, relocatable (${pcfiledir}).
file(RELATIVE_PATH KESSAN_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
foreach(pc kessan kessan-client)
  configure_file(${CMAKE_SOURCE_DIR}/cmake/${pc}.pc.in ${CMAKE_BINARY_DIR}/cmake/${pc}.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/cmake/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endforeach()
