# Turns files into a C++ source with their bytes, so the binary carries its SQL migrations and
# web assets (no files to install, works offline). Used at build time through md_embed().
#
#   md_embed(<target> <function name> <base dir> <files...>)
# defines `std::span<const md::embedded_file> <function name>()` in the generated source.
function(md_embed target function_name base_dir)
  set(output ${CMAKE_CURRENT_BINARY_DIR}/${function_name}.cpp)
  set(inputs ${ARGN})
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DFUNCTION=${function_name} -DBASE=${base_dir}
            "-DINPUTS=${inputs}" -P ${PROJECT_SOURCE_DIR}/cmake/embed_script.cmake
    DEPENDS ${inputs} ${PROJECT_SOURCE_DIR}/cmake/embed_script.cmake
    COMMENT "Embedding ${function_name}"
    VERBATIM)
  target_sources(${target} PRIVATE ${output})
endfunction()
