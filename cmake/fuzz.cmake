# fuzz.cmake: libFuzzer targets (tests/fuzz/fuzz_*.c), with -DNGHTTPW_FUZZ=ON.
#
# Include it from the top-level CMakeLists.txt after the NGHTTPW_SANITIZE
# block and before anything that creates a target (the bundled llhttp
# included):
#
#   include(cmake/fuzz.cmake)
#
# With NGHTTPW_FUZZ on (clang only), everything built from then on is
# compiled with -fsanitize=fuzzer-no-link,address,undefined (coverage
# feedback plus ASan and UBSan, UB being fatal), the library and llhttp
# included, and each tests/fuzz/fuzz_<name>.c becomes the program
# fuzz_<name>, linked with -fsanitize=fuzzer,address,undefined to
# nghttpw_static, the other (non fuzz_) sources of tests/fuzz and the
# library's private include directories (the targets use internal
# headers).  The custom target "fuzz" builds them all.  tools/fuzz
# configures, builds and runs them.
include_guard(GLOBAL)

option(NGHTTPW_FUZZ "Build the libFuzzer targets in tests/fuzz (needs clang)" OFF)

if(NOT NGHTTPW_FUZZ)
  return()
endif()

if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "NGHTTPW_FUZZ needs clang (libFuzzer); configure with "
    "CC=clang (the C compiler is ${CMAKE_C_COMPILER_ID})")
endif()
if(CMAKE_VERSION VERSION_LESS 3.19)
  message(FATAL_ERROR "NGHTTPW_FUZZ needs CMake 3.19 or newer")
endif()
if(NGHTTPW_SANITIZE)
  message(FATAL_ERROR "NGHTTPW_FUZZ brings its own sanitizers "
    "(address,undefined): leave NGHTTPW_SANITIZE empty")
endif()

# libFuzzer itself must be there: try a trivial fuzzer.
include(CheckCSourceCompiles)
set(_nghttpw_fuzz_save_flags "${CMAKE_REQUIRED_FLAGS}")
set(_nghttpw_fuzz_save_link "${CMAKE_REQUIRED_LINK_OPTIONS}")
set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer,address,undefined")
set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=fuzzer,address,undefined")
check_c_source_compiles([[
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{ (void) d; (void) n; return 0; }
]] NGHTTPW_HAVE_LIBFUZZER)
set(CMAKE_REQUIRED_FLAGS "${_nghttpw_fuzz_save_flags}")
set(CMAKE_REQUIRED_LINK_OPTIONS "${_nghttpw_fuzz_save_link}")
unset(_nghttpw_fuzz_save_flags)
unset(_nghttpw_fuzz_save_link)
if(NOT NGHTTPW_HAVE_LIBFUZZER)
  message(FATAL_ERROR "clang cannot link -fsanitize=fuzzer: libFuzzer is "
    "missing.  On Debian install the clang runtime package, e.g.\n"
    "  apt-get install libclang-rt-14-dev\n"
    "(matching the clang version)")
endif()

set(NGHTTPW_FUZZ_COMPILE_FLAGS
  -fsanitize=fuzzer-no-link,address,undefined
  -fno-sanitize-recover=all
  -fno-omit-frame-pointer
  -g)
set(NGHTTPW_FUZZ_LINK_FLAGS -fsanitize=fuzzer,address,undefined)
add_compile_options(${NGHTTPW_FUZZ_COMPILE_FLAGS})
# Without -fsanitize=fuzzer, so that no other program gets libFuzzer's main.
add_link_options(-fsanitize=address,undefined)
message(STATUS "fuzzing: libFuzzer targets from tests/fuzz, "
  "everything built with ${NGHTTPW_FUZZ_COMPILE_FLAGS}")

# The targets are made once the whole directory is read, when the library
# target and its include directories exist.
function(_nghttpw_fuzz_targets)
  if(NOT TARGET nghttpw_static)
    message(FATAL_ERROR "fuzz.cmake: no nghttpw_static target")
  endif()
  # The shared library's --no-undefined cannot hold with the sanitizer
  # runtimes left to the program (as NGHTTPW_SANITIZE does too).
  if(TARGET nghttpw)
    get_target_property(_opts nghttpw LINK_OPTIONS)
    if(_opts)
      list(REMOVE_ITEM _opts "LINKER:--no-undefined")
      set_target_properties(nghttpw PROPERTIES LINK_OPTIONS "${_opts}")
    endif()
  endif()

  set(_dir "${CMAKE_CURRENT_SOURCE_DIR}/tests/fuzz")
  file(GLOB _targets CONFIGURE_DEPENDS "${_dir}/fuzz_*.c")
  file(GLOB _all CONFIGURE_DEPENDS "${_dir}/*.c")
  set(_support "")
  foreach(_f ${_all})
    if(NOT _f IN_LIST _targets)
      list(APPEND _support "${_f}")
    endif()
  endforeach()

  add_custom_target(fuzz)
  foreach(_src ${_targets})
    get_filename_component(_name "${_src}" NAME_WE)
    add_executable(${_name} "${_src}" ${_support})
    target_include_directories(${_name} PRIVATE
      "${CMAKE_CURRENT_SOURCE_DIR}/src" "${_dir}" ${NGHTTPW_PRIVATE_INCLUDE_DIRS})
    target_link_libraries(${_name} PRIVATE nghttpw_static)
    target_link_options(${_name} PRIVATE ${NGHTTPW_FUZZ_LINK_FLAGS})
    add_dependencies(fuzz ${_name})
  endforeach()
endfunction()

cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _nghttpw_fuzz_targets)
