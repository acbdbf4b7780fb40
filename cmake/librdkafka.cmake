# librdkafka for the Kafka connector: `deltaflow_rdkafka` (an imported target for rdkafka++ and
# rdkafka).
#
# Built from source as static libraries when DELTAFLOW_RDKAFKA_SOURCE_DIR names librdkafka's
# source (by default build/deps/librdkafka, which scripts/setup.sh fetches: librdkafka 2.10.0
# from the rdkafka-sys crate); otherwise the system's librdkafka++ through pkg-config (Debian 12
# ships 2.0.2, which cannot authenticate with SCRAM against Kafka 4 brokers).
set(DELTAFLOW_RDKAFKA_SOURCE_DIR "${PROJECT_SOURCE_DIR}/build/deps/librdkafka" CACHE PATH
    "librdkafka source to build statically (empty or missing: use the system's through pkg-config)")

if(DELTAFLOW_RDKAFKA_SOURCE_DIR AND EXISTS "${DELTAFLOW_RDKAFKA_SOURCE_DIR}/CMakeLists.txt")
  include(ExternalProject)
  find_package(OpenSSL REQUIRED)
  find_package(ZLIB REQUIRED)
  find_package(Threads REQUIRED)
  set(_rdkafka_prefix "${PROJECT_BINARY_DIR}/librdkafka")
  set(_rdkafka_launcher "")
  if(CMAKE_CXX_COMPILER_LAUNCHER)
    set(_rdkafka_launcher -DCMAKE_C_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}
                          -DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER})
  endif()
  ExternalProject_Add(librdkafka_build
    SOURCE_DIR "${DELTAFLOW_RDKAFKA_SOURCE_DIR}"
    BINARY_DIR "${_rdkafka_prefix}/build"
    INSTALL_DIR "${_rdkafka_prefix}"
    CMAKE_ARGS
      -G ${CMAKE_GENERATOR}
      -DCMAKE_BUILD_TYPE=Release
      -DCMAKE_INSTALL_PREFIX=<INSTALL_DIR>
      -DCMAKE_INSTALL_LIBDIR=lib
      -DCMAKE_POSITION_INDEPENDENT_CODE=ON
      "-DCMAKE_C_FLAGS=-Wno-deprecated-declarations"
      ${_rdkafka_launcher}
      -DRDKAFKA_BUILD_STATIC=ON
      -DRDKAFKA_BUILD_EXAMPLES=OFF
      -DRDKAFKA_BUILD_TESTS=OFF
      -DWITH_SSL=ON
      -DWITH_ZLIB=ON
      -DWITH_SASL=ON
      -DWITH_CURL=OFF
      -DWITH_ZSTD=OFF
      -DENABLE_LZ4_EXT=OFF
    BUILD_BYPRODUCTS "${_rdkafka_prefix}/lib/librdkafka.a" "${_rdkafka_prefix}/lib/librdkafka++.a"
    UPDATE_COMMAND ""
    USES_TERMINAL_BUILD OFF)
  file(MAKE_DIRECTORY "${_rdkafka_prefix}/include")
  add_library(deltaflow_rdkafka_c STATIC IMPORTED GLOBAL)
  set_target_properties(deltaflow_rdkafka_c PROPERTIES
    IMPORTED_LOCATION "${_rdkafka_prefix}/lib/librdkafka.a"
    INTERFACE_COMPILE_DEFINITIONS LIBRDKAFKA_STATICLIB
    INTERFACE_LINK_LIBRARIES "OpenSSL::SSL;OpenSSL::Crypto;ZLIB::ZLIB;sasl2;Threads::Threads;${CMAKE_DL_LIBS};m;rt")
  add_library(deltaflow_rdkafka STATIC IMPORTED GLOBAL)
  set_target_properties(deltaflow_rdkafka PROPERTIES
    IMPORTED_LOCATION "${_rdkafka_prefix}/lib/librdkafka++.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_rdkafka_prefix}/include"
    INTERFACE_LINK_LIBRARIES deltaflow_rdkafka_c)
  add_dependencies(deltaflow_rdkafka librdkafka_build)
  add_dependencies(deltaflow_rdkafka_c librdkafka_build)
  set(DELTAFLOW_RDKAFKA_VENDORED ON)
  set(DELTAFLOW_RDKAFKA_LIBS "${_rdkafka_prefix}/lib/librdkafka++.a;${_rdkafka_prefix}/lib/librdkafka.a")
  message(STATUS "deltaflow: librdkafka built from ${DELTAFLOW_RDKAFKA_SOURCE_DIR}")
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka++)
  add_library(deltaflow_rdkafka INTERFACE IMPORTED GLOBAL)
  set_target_properties(deltaflow_rdkafka PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::RDKAFKA)
  set(DELTAFLOW_RDKAFKA_VENDORED OFF)
  message(WARNING "deltaflow: building the Kafka connector on the system's librdkafka ${RDKAFKA_VERSION} "
                  "(run scripts/setup.sh for librdkafka 2.10.0: older ones cannot use SCRAM with Kafka 4 brokers)")
endif()
