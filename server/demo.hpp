// `mediadesk demo`: everything in one process on a private PostgreSQL and Redis under DIR.
#pragma once
#include <filesystem>
#include <optional>

namespace md::server {

struct demo_options {
  std::filesystem::path home = "var";
  int http_port = 8080;
  int smtp_port = 2525;
  std::optional<std::filesystem::path> config_file;
};

int run_demo(const demo_options& options);

}  // namespace md::server
