# NghttpwLlhttp.cmake: find the llhttp HTTP/1.1 parser.
#
# A system library is preferred: pkg-config module libllhttp or llhttp,
# then a plain libllhttp next to an llhttp.h.  Without one, the C sources
# that Debian's node-llhttp package ships are compiled into nghttpw itself
# (an OBJECT library, warnings off, position independent).
#
# Sets:
#   NGHTTPW_LLHTTP_MODE          "system" or "bundled"
#   NGHTTPW_LLHTTP_INCLUDE_DIRS  for src/ and tests only, never public
#   NGHTTPW_LLHTTP_LIBRARIES     what the library links privately (system)
#   NGHTTPW_LLHTTP_OBJECTS       $<TARGET_OBJECTS:...> to add as sources
#   NGHTTPW_LLHTTP_PC_REQUIRES   pkg-config module for Requires.private
#   NGHTTPW_LLHTTP_PC_LIBS       flags for Libs.private

option(NGHTTPW_SYSTEM_LLHTTP "Use a system libllhttp when one is found" ON)
set(NGHTTPW_LLHTTP_SOURCE_DIR "/usr/share/llhttp" CACHE PATH
  "llhttp C sources (api.c http.c llhttp.c) used when there is no system libllhttp")
set(NGHTTPW_LLHTTP_HEADER_DIR "/usr/share/include/llhttp" CACHE PATH
  "directory holding llhttp.h for the llhttp sources")

set(NGHTTPW_LLHTTP_MODE "")
set(NGHTTPW_LLHTTP_INCLUDE_DIRS "")
set(NGHTTPW_LLHTTP_LIBRARIES "")
set(NGHTTPW_LLHTTP_OBJECTS "")
set(NGHTTPW_LLHTTP_PC_REQUIRES "")
set(NGHTTPW_LLHTTP_PC_LIBS "")

if(NGHTTPW_SYSTEM_LLHTTP)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    foreach(_nghttpw_mod libllhttp llhttp)
      if(NOT NGHTTPW_LLHTTP_MODE)
        pkg_check_modules(NGHTTPW_PC_LLHTTP QUIET ${_nghttpw_mod})
        if(NGHTTPW_PC_LLHTTP_FOUND)
          set(_nghttpw_llhttp_h "")
          foreach(_nghttpw_d ${NGHTTPW_PC_LLHTTP_INCLUDE_DIRS}
              ${CMAKE_C_IMPLICIT_INCLUDE_DIRECTORIES} /usr/local/include
              /usr/include)
            if(NOT _nghttpw_llhttp_h AND EXISTS "${_nghttpw_d}/llhttp.h")
              set(_nghttpw_llhttp_h "${_nghttpw_d}")
            endif()
          endforeach()
          unset(_nghttpw_d)
          if(_nghttpw_llhttp_h AND NGHTTPW_PC_LLHTTP_LINK_LIBRARIES)
            set(NGHTTPW_LLHTTP_MODE system)
            set(NGHTTPW_LLHTTP_INCLUDE_DIRS ${_nghttpw_llhttp_h})
            set(NGHTTPW_LLHTTP_LIBRARIES ${NGHTTPW_PC_LLHTTP_LINK_LIBRARIES})
            set(NGHTTPW_LLHTTP_PC_REQUIRES ${_nghttpw_mod})
          endif()
          unset(_nghttpw_llhttp_h)
        endif()
      endif()
    endforeach()
    unset(_nghttpw_mod)
  endif()
  if(NOT NGHTTPW_LLHTTP_MODE)
    find_library(NGHTTPW_LLHTTP_SYSTEM_LIBRARY llhttp)
    find_path(NGHTTPW_LLHTTP_SYSTEM_INCLUDE_DIR llhttp.h)
    mark_as_advanced(NGHTTPW_LLHTTP_SYSTEM_LIBRARY
      NGHTTPW_LLHTTP_SYSTEM_INCLUDE_DIR)
    if(NGHTTPW_LLHTTP_SYSTEM_LIBRARY AND NGHTTPW_LLHTTP_SYSTEM_INCLUDE_DIR)
      set(NGHTTPW_LLHTTP_MODE system)
      set(NGHTTPW_LLHTTP_INCLUDE_DIRS ${NGHTTPW_LLHTTP_SYSTEM_INCLUDE_DIR})
      set(NGHTTPW_LLHTTP_LIBRARIES ${NGHTTPW_LLHTTP_SYSTEM_LIBRARY})
      set(NGHTTPW_LLHTTP_PC_LIBS "-lllhttp")
    endif()
  endif()
endif()

if(NOT NGHTTPW_LLHTTP_MODE)
  set(_nghttpw_llhttp_srcs "")
  foreach(_nghttpw_f api.c http.c llhttp.c)
    if(EXISTS "${NGHTTPW_LLHTTP_SOURCE_DIR}/${_nghttpw_f}")
      list(APPEND _nghttpw_llhttp_srcs "${NGHTTPW_LLHTTP_SOURCE_DIR}/${_nghttpw_f}")
    endif()
  endforeach()
  unset(_nghttpw_f)
  list(LENGTH _nghttpw_llhttp_srcs _nghttpw_n)
  if(NOT _nghttpw_n EQUAL 3
      OR NOT EXISTS "${NGHTTPW_LLHTTP_HEADER_DIR}/llhttp.h")
    message(FATAL_ERROR
      "llhttp not found: there is no system libllhttp, and "
      "${NGHTTPW_LLHTTP_SOURCE_DIR}/{api.c,http.c,llhttp.c} with "
      "${NGHTTPW_LLHTTP_HEADER_DIR}/llhttp.h are not all there.\n"
      "On Debian install the package node-llhttp:\n"
      "  apt-get install node-llhttp\n"
      "(or point -DNGHTTPW_LLHTTP_SOURCE_DIR= and "
      "-DNGHTTPW_LLHTTP_HEADER_DIR= at another copy of the llhttp C sources)")
  endif()
  unset(_nghttpw_n)

  # Generated code: no warnings (and so no -Werror) for these files.
  add_library(nghttpw_llhttp OBJECT ${_nghttpw_llhttp_srcs})
  target_include_directories(nghttpw_llhttp PRIVATE "${NGHTTPW_LLHTTP_HEADER_DIR}")
  target_compile_options(nghttpw_llhttp PRIVATE -w)
  # Strict mode: CR must be followed by LF in the start line, the fields
  # and the chunk lines (RFC 9112 2.2, 7.1), and a request target is
  # ASCII.  Without it llhttp 8 skips any byte after a CR and any two
  # after a chunk's data.
  target_compile_definitions(nghttpw_llhttp PRIVATE LLHTTP_STRICT_MODE=1)
  set_target_properties(nghttpw_llhttp PROPERTIES
    POSITION_INDEPENDENT_CODE ON
    C_VISIBILITY_PRESET hidden)
  unset(_nghttpw_llhttp_srcs)

  set(NGHTTPW_LLHTTP_MODE bundled)
  set(NGHTTPW_LLHTTP_INCLUDE_DIRS "${NGHTTPW_LLHTTP_HEADER_DIR}")
  set(NGHTTPW_LLHTTP_OBJECTS $<TARGET_OBJECTS:nghttpw_llhttp>)
endif()

if(NGHTTPW_LLHTTP_MODE STREQUAL "system")
  message(STATUS "llhttp: system library ${NGHTTPW_LLHTTP_LIBRARIES}")
else()
  message(STATUS "llhttp: compiled in from ${NGHTTPW_LLHTTP_SOURCE_DIR}")
endif()
