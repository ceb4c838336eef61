// Logging set-up: spdlog to stderr, plain text or JSON lines. Log lines carry ids, counts and
// reasons only; personal data is never passed to a logger.
#pragma once
#include "config/settings.hpp"

namespace md::server {
void setup_logging(const log_settings& settings);
}
