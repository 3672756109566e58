# l3l2qConfig.cmake: lets CMake projects use an installed l3l2q.
#
#   find_package(l3l2q 0.1 REQUIRED)     # with CMAKE_PREFIX_PATH=<prefix> if not in a system prefix
#   target_link_libraries(app PRIVATE l3l2q::l3l2q)          # shared: loads libl3l2q.so.1 (the SONAME)
#   target_link_libraries(app PRIVATE l3l2q::l3l2q_static)   # static: libl3l2q.a + pthread, dl, m, rt
#
# Both targets carry the include directory (l3l2q.h, and l3l2q.hpp for C++17).
#   target_link_libraries(runtime PRIVATE l3l2q::compat)     # drop-in headers (aicpu/..., common/...) + shared
#   target_link_libraries(runtime PRIVATE l3l2q::compat_static)
# Install this file with l3l2qConfigVersion.cmake as
# <libdir>/cmake/l3l2q/l3l2qConfig.cmake (see docs/PACKAGING.md); it finds
# the libraries two directories up (<libdir>) and the headers in
# <libdir>/../include (or <libdir>/../../include for multiarch libdirs).

include(CMakeFindDependencyMacro)
find_dependency(Threads)

get_filename_component(_l3l2q_libdir "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
set(_l3l2q_include "")
foreach(_l3l2q_candidate "${_l3l2q_libdir}/../include" "${_l3l2q_libdir}/../../include")
  if(NOT _l3l2q_include AND EXISTS "${_l3l2q_candidate}/l3l2q.h")
    get_filename_component(_l3l2q_include "${_l3l2q_candidate}" ABSOLUTE)
  endif()
endforeach()

if(NOT _l3l2q_include)
  set(l3l2q_FOUND FALSE)
  set(l3l2q_NOT_FOUND_MESSAGE "l3l2q.h not found in ${_l3l2q_libdir}/../include")
  return()
endif()

if(NOT TARGET l3l2q::l3l2q AND EXISTS "${_l3l2q_libdir}/libl3l2q.so.1")
  add_library(l3l2q::l3l2q SHARED IMPORTED)
  set_target_properties(l3l2q::l3l2q PROPERTIES
    IMPORTED_LOCATION "${_l3l2q_libdir}/libl3l2q.so.1"
    IMPORTED_SONAME "libl3l2q.so.1"
    INTERFACE_INCLUDE_DIRECTORIES "${_l3l2q_include}")
endif()

if(NOT TARGET l3l2q::l3l2q_static AND EXISTS "${_l3l2q_libdir}/libl3l2q.a")
  add_library(l3l2q::l3l2q_static STATIC IMPORTED)
  set_target_properties(l3l2q::l3l2q_static PROPERTIES
    IMPORTED_LOCATION "${_l3l2q_libdir}/libl3l2q.a"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "${_l3l2q_include}"
    # What the Rust runtime inside the archive needs from the system.
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m;rt")
endif()

if(NOT TARGET l3l2q::l3l2q AND NOT TARGET l3l2q::l3l2q_static)
  set(l3l2q_FOUND FALSE)
  set(l3l2q_NOT_FOUND_MESSAGE "neither libl3l2q.so.1 nor libl3l2q.a in ${_l3l2q_libdir}")
  return()
endif()

set(l3l2q_INCLUDE_DIRS "${_l3l2q_include}")
if(TARGET l3l2q::l3l2q)
  set(l3l2q_LIBRARIES l3l2q::l3l2q)
else()
  set(l3l2q_LIBRARIES l3l2q::l3l2q_static)
endif()

# The drop-in headers for runtimes written against the other implementation
# (aicpu/worker_chip_message_queue.h, ...): l3l2q::compat adds their directory
# and links the shared library (l3l2q::compat_static: the archive).
set(_l3l2q_compat "${_l3l2q_include}/l3l2q/compat")
if(EXISTS "${_l3l2q_compat}/aicpu/worker_chip_message_queue.h")
  set(l3l2q_COMPAT_INCLUDE_DIR "${_l3l2q_compat}")
  foreach(_l3l2q_kind "" "_static")
    if(NOT TARGET l3l2q::compat${_l3l2q_kind} AND TARGET l3l2q::l3l2q${_l3l2q_kind})
      add_library(l3l2q::compat${_l3l2q_kind} INTERFACE IMPORTED)
      set_target_properties(l3l2q::compat${_l3l2q_kind} PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${_l3l2q_compat}"
        INTERFACE_LINK_LIBRARIES "l3l2q::l3l2q${_l3l2q_kind}")
    endif()
  endforeach()
  unset(_l3l2q_kind)
endif()
unset(_l3l2q_compat)
unset(_l3l2q_candidate)
unset(_l3l2q_include)
unset(_l3l2q_libdir)
