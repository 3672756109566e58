# l3l2qConfigVersion.cmake: version check for find_package(l3l2q <version>).
# PACKAGE_VERSION must equal the crate version in Cargo.toml (a test checks).
# Compatible when the requested version is not newer and has the same major
# (before 1.0: the same major and minor, as in Cargo's semver). The C ABI
# major, which the SONAME libl3l2q.so.1 carries, is a separate number.
set(PACKAGE_VERSION "0.1.0")

if(NOT PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
elseif(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  string(REGEX MATCH "^([0-9]+)\\.([0-9]+)" _l3l2q_v "${PACKAGE_VERSION}")
  set(_l3l2q_major "${CMAKE_MATCH_1}")
  set(_l3l2q_minor "${CMAKE_MATCH_2}")
  if(NOT PACKAGE_FIND_VERSION_MAJOR EQUAL _l3l2q_major)
    set(PACKAGE_VERSION_COMPATIBLE FALSE)
  elseif(_l3l2q_major EQUAL 0 AND NOT PACKAGE_FIND_VERSION_MINOR EQUAL _l3l2q_minor)
    set(PACKAGE_VERSION_COMPATIBLE FALSE)
  else()
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
  if(PACKAGE_FIND_VERSION VERSION_EQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
  unset(_l3l2q_v)
  unset(_l3l2q_major)
  unset(_l3l2q_minor)
endif()

