# NghttpwManPages.cmake: turn man/*.adoc into troff pages, and into an HTML
# reference, with asciidoctor.
#
# The first line of each page names it and gives its section, e.g.
#   = nghttpw_aio_alloc(3)
# and the page is built as <build>/man/man3/nghttpw_aio_alloc.3 and
# installed to <prefix>/share/man/man3/.  Warnings from asciidoctor fail
# the build.  A page whose first line has no such title stops configure.
#
# The same pages are built as <build>/man/html/<name>.html, with an
# index.html listing them by section, and installed to
# <prefix>/share/doc/nghttpw/html/ (nng publishes its reference so too).
# In HTML, xref: links and references in running text such as
# nghttpw_aio_free(3) lead to the page (cmake/nghttpw_man_links.rb).

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
set(_nghttpw_html_dir "${CMAKE_CURRENT_BINARY_DIR}/man/html")
set(_nghttpw_html_pages "")
set(_nghttpw_html_links "${CMAKE_CURRENT_SOURCE_DIR}/cmake/nghttpw_man_links.rb")
# Every HTML page links one stylesheet, copied next to them; no page
# fetches fonts from the web.
set(_nghttpw_html_args -b html5 --failure-level WARN
  -r "${_nghttpw_html_links}" -a linkcss -a copycss -a webfonts!
  -a "revnumber=${PROJECT_VERSION}")
# The index's entries, by section: "* xref:PAGE.adoc[TITLE] - WHAT IT IS".
foreach(_nghttpw_s 1 3 5 7)
  set(_nghttpw_index_${_nghttpw_s} "")
endforeach()
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

  get_filename_component(_nghttpw_base "${_nghttpw_adoc}" NAME_WE)
  list(APPEND _nghttpw_html_pages "${_nghttpw_html_dir}/${_nghttpw_base}.html")

  if(NOT _nghttpw_dir MATCHES "^[1357]$")
    message(FATAL_ERROR "${_nghttpw_adoc}: section ${_nghttpw_sect}; the "
      "index has sections 1, 3, 5 and 7 only")
  endif()
  file(READ "${_nghttpw_adoc}" _nghttpw_text)
  if(NOT _nghttpw_text MATCHES "\n== NAME\n\n[^\n]* - ([^\n]+)\n")
    message(FATAL_ERROR "${_nghttpw_adoc}: no 'NAME' section of the form "
      "'name - what it is'")
  endif()
  string(APPEND _nghttpw_index_${_nghttpw_dir}
    "* xref:${_nghttpw_base}.adoc[${_nghttpw_name}(${_nghttpw_sect})] - "
    "${CMAKE_MATCH_1}\n")
endforeach()

# The index page, grouped by section as man(1) groups them.
set(_nghttpw_index_adoc "${CMAKE_CURRENT_BINARY_DIR}/man/index.adoc")
string(CONCAT _nghttpw_index_text "= nghttpw ${PROJECT_VERSION} reference\n\n"
  "The manual pages of nghttpw, an HTTP/1.1 and WebSocket library with the "
  "programming interface of nng 1.x. Start with xref:nghttpw.adoc[nghttpw(7)].\n")
foreach(_nghttpw_s 1 3 5 7)
  if(_nghttpw_s EQUAL 1)
    set(_nghttpw_what "Programs")
  elseif(_nghttpw_s EQUAL 3)
    set(_nghttpw_what "Functions")
  elseif(_nghttpw_s EQUAL 5)
    set(_nghttpw_what "Overviews")
  else()
    set(_nghttpw_what "The library")
  endif()
  if(NOT _nghttpw_index_${_nghttpw_s} STREQUAL "")
    string(APPEND _nghttpw_index_text "\n== Section ${_nghttpw_s}: "
      "${_nghttpw_what}\n\n${_nghttpw_index_${_nghttpw_s}}")
  endif()
endforeach()
file(CONFIGURE OUTPUT "${_nghttpw_index_adoc}" CONTENT "${_nghttpw_index_text}"
  @ONLY)
list(APPEND _nghttpw_html_pages "${_nghttpw_html_dir}/index.html"
  "${_nghttpw_html_dir}/asciidoctor.css")

# The pages (each says ':doctype: manpage') and the index in one run, one
# Ruby start instead of one a page, into a scratch directory that then
# replaces the last one whole: no page of a removed .adoc stays behind, and
# only a run without warnings replaces the reference.
add_custom_command(
  OUTPUT ${_nghttpw_html_pages}
  COMMAND "${CMAKE_COMMAND}" -E rm -rf "${_nghttpw_html_dir}.tmp"
  COMMAND "${NGHTTPW_ASCIIDOCTOR}" ${_nghttpw_html_args}
    -D "${_nghttpw_html_dir}.tmp" ${NGHTTPW_MAN_SOURCES} "${_nghttpw_index_adoc}"
  COMMAND "${CMAKE_COMMAND}" -E rm -rf "${_nghttpw_html_dir}"
  COMMAND "${CMAKE_COMMAND}" -E rename "${_nghttpw_html_dir}.tmp"
    "${_nghttpw_html_dir}"
  DEPENDS ${NGHTTPW_MAN_SOURCES} "${_nghttpw_index_adoc}" "${_nghttpw_html_links}"
  WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/man"
  COMMENT "Building the HTML reference"
  VERBATIM)
list(APPEND NGHTTPW_MAN_OUTPUTS ${_nghttpw_html_pages})
install(FILES ${_nghttpw_html_pages} DESTINATION "${CMAKE_INSTALL_DOCDIR}/html")

unset(_nghttpw_man_seen)
unset(_nghttpw_adoc)
unset(_nghttpw_title)
unset(_nghttpw_name)
unset(_nghttpw_sect)
unset(_nghttpw_dir)
unset(_nghttpw_page)
unset(_nghttpw_out)
unset(_nghttpw_base)
unset(_nghttpw_html_pages)
unset(_nghttpw_html_args)
unset(_nghttpw_html_links)
unset(_nghttpw_text)
unset(_nghttpw_what)
unset(_nghttpw_s)
foreach(_nghttpw_s 1 3 5 7)
  unset(_nghttpw_index_${_nghttpw_s})
endforeach()
unset(_nghttpw_index_adoc)
unset(_nghttpw_index_text)

add_custom_target(nghttpw_man ALL DEPENDS ${NGHTTPW_MAN_OUTPUTS}
  SOURCES ${NGHTTPW_MAN_SOURCES})
list(LENGTH NGHTTPW_MAN_OUTPUTS _nghttpw_n)
message(STATUS "man pages: ${_nghttpw_n} outputs (troff and HTML) from man/*.adoc (${NGHTTPW_ASCIIDOCTOR})")
unset(_nghttpw_n)
unset(_nghttpw_html_dir)
