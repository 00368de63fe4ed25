# FindMbedTLS.cmake: locate the mbed TLS libraries (mbedtls, mbedx509,
# mbedcrypto) and the header mbedtls/ssl.h.
#
# Result variables:
#   MbedTLS_FOUND, MbedTLS_VERSION, MbedTLS_INCLUDE_DIR, MbedTLS_LIBRARIES
# Imported targets (each links the next one):
#   MbedTLS::mbedtls -> MbedTLS::mbedx509 -> MbedTLS::mbedcrypto
#
# The same names are used by the CMake package that mbed TLS 3 ships; when
# those targets exist already they are taken as they are.
#
# This module is installed next to nghttpwConfig.cmake so that consumers of
# the static library find mbed TLS the same way the build did.

if(TARGET MbedTLS::mbedtls AND TARGET MbedTLS::mbedx509
    AND TARGET MbedTLS::mbedcrypto)
  set(MbedTLS_FOUND TRUE)
  return()
endif()

find_path(MbedTLS_INCLUDE_DIR NAMES mbedtls/ssl.h
  DOC "directory that holds mbedtls/ssl.h")
find_library(MbedTLS_mbedtls_LIBRARY NAMES mbedtls DOC "the mbedtls library")
find_library(MbedTLS_mbedx509_LIBRARY NAMES mbedx509 DOC "the mbedx509 library")
find_library(MbedTLS_mbedcrypto_LIBRARY NAMES mbedcrypto
  DOC "the mbedcrypto library")
mark_as_advanced(MbedTLS_INCLUDE_DIR MbedTLS_mbedtls_LIBRARY
  MbedTLS_mbedx509_LIBRARY MbedTLS_mbedcrypto_LIBRARY)

# A path given by hand (or left in a cache) must really hold the files.
if(MbedTLS_INCLUDE_DIR AND NOT EXISTS "${MbedTLS_INCLUDE_DIR}/mbedtls/ssl.h")
  set(MbedTLS_INCLUDE_DIR "MbedTLS_INCLUDE_DIR-NOTFOUND")
endif()
foreach(_nghttpw_mbed mbedtls mbedx509 mbedcrypto)
  if(MbedTLS_${_nghttpw_mbed}_LIBRARY
      AND NOT EXISTS "${MbedTLS_${_nghttpw_mbed}_LIBRARY}")
    set(MbedTLS_${_nghttpw_mbed}_LIBRARY
      "MbedTLS_${_nghttpw_mbed}_LIBRARY-NOTFOUND")
  endif()
endforeach()
unset(_nghttpw_mbed)

# The version lives in build_info.h (3.x) or version.h (2.x).
unset(MbedTLS_VERSION)
if(MbedTLS_INCLUDE_DIR)
  foreach(_nghttpw_h build_info.h version.h)
    set(_nghttpw_f "${MbedTLS_INCLUDE_DIR}/mbedtls/${_nghttpw_h}")
    if(NOT MbedTLS_VERSION AND EXISTS "${_nghttpw_f}")
      file(STRINGS "${_nghttpw_f}" _nghttpw_v
        REGEX "^#define[ \t]+MBEDTLS_VERSION_STRING[ \t]+\"[0-9.]+\"")
      if(_nghttpw_v MATCHES "\"([0-9.]+)\"")
        set(MbedTLS_VERSION "${CMAKE_MATCH_1}")
      endif()
    endif()
  endforeach()
  unset(_nghttpw_h)
  unset(_nghttpw_f)
  unset(_nghttpw_v)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(MbedTLS
  REQUIRED_VARS MbedTLS_INCLUDE_DIR MbedTLS_mbedtls_LIBRARY
    MbedTLS_mbedx509_LIBRARY MbedTLS_mbedcrypto_LIBRARY
  VERSION_VAR MbedTLS_VERSION)

if(MbedTLS_FOUND)
  set(MbedTLS_LIBRARIES ${MbedTLS_mbedtls_LIBRARY}
    ${MbedTLS_mbedx509_LIBRARY} ${MbedTLS_mbedcrypto_LIBRARY})
  if(NOT TARGET MbedTLS::mbedcrypto)
    add_library(MbedTLS::mbedcrypto UNKNOWN IMPORTED)
    set_target_properties(MbedTLS::mbedcrypto PROPERTIES
      IMPORTED_LOCATION "${MbedTLS_mbedcrypto_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${MbedTLS_INCLUDE_DIR}")
  endif()
  if(NOT TARGET MbedTLS::mbedx509)
    add_library(MbedTLS::mbedx509 UNKNOWN IMPORTED)
    set_target_properties(MbedTLS::mbedx509 PROPERTIES
      IMPORTED_LOCATION "${MbedTLS_mbedx509_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${MbedTLS_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES MbedTLS::mbedcrypto)
  endif()
  if(NOT TARGET MbedTLS::mbedtls)
    add_library(MbedTLS::mbedtls UNKNOWN IMPORTED)
    set_target_properties(MbedTLS::mbedtls PROPERTIES
      IMPORTED_LOCATION "${MbedTLS_mbedtls_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${MbedTLS_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES MbedTLS::mbedx509)
  endif()
endif()
