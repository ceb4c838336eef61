// Foundation triage (see triage.hpp).
#include "routing/triage.hpp"

namespace md::routing {

priority priority_for_deadline(std::optional<time_point> deadline, time_point now) {
  using namespace std::chrono;
  if (!deadline) return priority::normal;
  auto left = *deadline - now;
  if (left < hours{3}) return priority::urgent;
  if (left < hours{24}) return priority::high;
  return priority::normal;
}

triage_result triage_request(const journalist_request& request, time_point now) {
  triage_result result;
  result.outlet_name = request.outlet;
  result.deadline = request.deadline;
  result.priority_level = priority_for_deadline(request.deadline, now);
  return result;
}

}  // namespace md::routing
