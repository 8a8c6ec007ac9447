# The PyPI wheels' exported targets name the include directories of the machine that built
# them (/opt/python/cp3XX-cp3XX/..., the manylinux image): point those at this Python's.
find_package(Python3 REQUIRED COMPONENTS Interpreter Development)
execute_process(
  COMMAND "${Python3_EXECUTABLE}" -c "import numpy; print(numpy.get_include())"
  OUTPUT_VARIABLE local_numpy_include OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
get_property(imported DIRECTORY PROPERTY IMPORTED_TARGETS)
foreach(target IN LISTS imported)
  get_target_property(includes ${target} INTERFACE_INCLUDE_DIRECTORIES)
  if(includes MATCHES "/opt/python/")
    list(TRANSFORM includes REPLACE "^/opt/python/[^;]*/numpy/_core/include$" "${local_numpy_include}")
    list(TRANSFORM includes REPLACE "^/opt/python/[^;]*/include/python3[^;]*$" "${Python3_INCLUDE_DIRS}")
    set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${includes}")
  endif()
endforeach()

