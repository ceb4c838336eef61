// Catch2 v2 main for every test binary; also initialises libsodium once.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "crypto/primitives.hpp"

int main(int argc, char* argv[]) {
  md::crypto::initialise();
  return Catch::Session().run(argc, argv);
}
