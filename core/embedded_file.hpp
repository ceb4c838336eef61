// A file carried inside the binary (SQL migrations, web assets), made by cmake/embed_files.cmake.
#pragma once
#include <span>
#include <string_view>

namespace md {

struct embedded_file {
  std::string_view name;  // path relative to its folder, e.g. "001_foundation.sql"
  std::string_view content;
};

}  // namespace md
