// Every intake door (webhook, form, SMTP/LMTP, provider webhooks) appends through here: the
// sealed record goes to the Redis appender and the awaiting coroutine resumes with the outcome,
// so no door answers before Redis has acknowledged.
#pragma once
#include "queue/append.hpp"
#include "server/app.hpp"

namespace md::server {

// A plain function taking the request by reference (see the GCC 12 rules in net.hpp).
awaitable<queue::append_outcome> async_append(app_context& app, queue::append_request&& request);

}  // namespace md::server
