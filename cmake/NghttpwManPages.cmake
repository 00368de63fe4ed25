# NghttpwManPages.cmake: turn man/*.adoc into troff pages with asciidoctor.
#
# The first line of each page names it and gives its section, e.g.
#   = nghttpw_aio_alloc(3)
# and the page is built as <build>/man/man3/nghttpw_aio_alloc.3 and
# installed to <prefix>/share/man/man3/.  Warnings from asciidoctor fail
# the build.  A page whose first line has no such title stops configure.

find_program(NGHTTPW_ASCIIDOCTOR asciidoctor
  DOC "asciidoctor, used to build the man pages")
if(NOT NGHTTPW_ASCIIDOCTOR OR NOT EXISTS "${NGHTTPW_ASCIIDOCTOR}")
  message(FATAL_ERROR
    "asciidoctor not found; it turns man/*.adoc into man pages.\n"
    "On Debian install the package asciidoctor:\n"
    "  apt-get install asciidoctor\n"
    "(or configure with -DNGHTTPW_MANPAGES=OFF to build without man pages)")
endif()

file(GLOB NGHTTPW_MAN_SOURCES CONFIGURE_DEPENDS
  "${CMAKE_CURRENT_SOURCE_DIR}/man/*.adoc")
list(SORT NGHTTPW_MAN_SOURCES)

set(NGHTTPW_MAN_OUTPUTS "")
set(_nghttpw_man_seen "")
foreach(_nghttpw_adoc ${NGHTTPW_MAN_SOURCES})
  # Editing a title must move the page: read the titles again then.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_nghttpw_adoc}")
  file(STRINGS "${_nghttpw_adoc}" _nghttpw_title LIMIT_COUNT 1)
  if(NOT _nghttpw_title MATCHES "^=[ \t]+([A-Za-z0-9_.:+-]+)\\(([1-9][a-z]*)\\)[ \t]*$")
    message(FATAL_ERROR
      "${_nghttpw_adoc}: the first line must be the page title, "
      "like '= nghttpw_aio_alloc(3)', not '${_nghttpw_title}'")
  endif()
  set(_nghttpw_name "${CMAKE_MATCH_1}")
  set(_nghttpw_sect "${CMAKE_MATCH_2}")
  string(SUBSTRING "${_nghttpw_sect}" 0 1 _nghttpw_dir)
  set(_nghttpw_page "${_nghttpw_name}.${_nghttpw_sect}")
  if(_nghttpw_page IN_LIST _nghttpw_man_seen)
    message(FATAL_ERROR "${_nghttpw_adoc}: a second page titled ${_nghttpw_page}")
  endif()
  list(APPEND _nghttpw_man_seen "${_nghttpw_page}")

  set(_nghttpw_out "${CMAKE_CURRENT_BINARY_DIR}/man/man${_nghttpw_dir}/${_nghttpw_page}")
  add_custom_command(
    OUTPUT "${_nghttpw_out}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory
      "${CMAKE_CURRENT_BINARY_DIR}/man/man${_nghttpw_dir}"
    COMMAND "${NGHTTPW_ASCIIDOCTOR}" -b manpage -d manpage
      --failure-level WARN
      -a "mansource=nghttpw ${PROJECT_VERSION}"
      -a "manmanual=nghttpw Manual"
      -o "${_nghttpw_out}.tmp" "${_nghttpw_adoc}"
    # Only a page built without warnings takes the output's name.
    COMMAND "${CMAKE_COMMAND}" -E rename "${_nghttpw_out}.tmp" "${_nghttpw_out}"
    DEPENDS "${_nghttpw_adoc}"
    WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/man"
    COMMENT "Building man page ${_nghttpw_page}"
    VERBATIM)
  list(APPEND NGHTTPW_MAN_OUTPUTS "${_nghttpw_out}")
  install(FILES "${_nghttpw_out}"
    DESTINATION "${CMAKE_INSTALL_MANDIR}/man${_nghttpw_dir}")
endforeach()
unset(_nghttpw_man_seen)
unset(_nghttpw_adoc)
unset(_nghttpw_title)
unset(_nghttpw_name)
unset(_nghttpw_sect)
unset(_nghttpw_dir)
unset(_nghttpw_page)
unset(_nghttpw_out)

add_custom_target(nghttpw_man ALL DEPENDS ${NGHTTPW_MAN_OUTPUTS}
  SOURCES ${NGHTTPW_MAN_SOURCES})
list(LENGTH NGHTTPW_MAN_OUTPUTS _nghttpw_n)
message(STATUS "man pages: ${_nghttpw_n} from man/*.adoc (${NGHTTPW_ASCIIDOCTOR})")
unset(_nghttpw_n)
