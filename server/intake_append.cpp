// Appending an intake from a coroutine (see intake_append.hpp).
#include "server/intake_append.hpp"

#include <boost/asio/dispatch.hpp>

namespace md::server {

awaitable<queue::append_outcome> async_append(app_context& app, queue::append_request&& request) {
  return asio::async_initiate<const asio::use_awaitable_t<>, void(queue::append_outcome)>(
      [&app](auto handler, queue::append_request request) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        app.appender.submit(std::move(request), [shared](queue::append_outcome outcome) mutable {
          auto executor = asio::get_associated_executor(*shared);
          asio::dispatch(executor, [shared, outcome = std::move(outcome)]() mutable { (*shared)(std::move(outcome)); });
        });
      },
      asio::use_awaitable, std::move(request));
}

}  // namespace md::server
