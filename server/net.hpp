// Common Asio/Beast aliases for the server. Asio and Beast are compiled once in boost_net.cpp
// (BOOST_*_SEPARATE_COMPILATION), so including this header stays cheap-ish.
#pragma once
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace md::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;
template <class T>
using awaitable = asio::awaitable<T>;
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// Runs blocking work (libpq, hiredis) on a pool so that the I/O threads keep serving, and
// resumes the awaiting coroutine on its own executor with the result or the exception.
//
// GCC 12 coroutine rules this file and the handlers follow (both bit us as double frees):
// - a lambda that is itself a coroutine may capture only references and trivial values, since
//   GCC copies the closure into the frame bitwise;
// - inside a coroutine, no class-type temporary may appear in a co_await expression (GCC
//   destroys it twice): name the lambda first, then co_await run_blocking(pool, std::move(it)).
// Hence no co_spawn here: a plain initiation posts the work and completes the handler.
template <class Work>
auto run_blocking(asio::thread_pool& pool, Work&& work) {
  using F = std::decay_t<Work>;
  using result_type = std::invoke_result_t<F&>;
  if constexpr (std::is_void_v<result_type>) {
    return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr)>(
        [&pool](auto handler, F work) {
          auto state = std::make_shared<std::pair<decltype(handler), F>>(std::move(handler), std::move(work));
          asio::post(pool, [state] {
            std::exception_ptr error;
            try {
              state->second();
            } catch (...) {
              error = std::current_exception();
            }
            auto executor = asio::get_associated_executor(state->first);
            asio::post(executor, [state, error]() mutable { std::move(state->first)(error); });
          });
        },
        asio::use_awaitable, std::forward<Work>(work));
  } else {
    return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr, result_type)>(
        [&pool](auto handler, F work) {
          auto state = std::make_shared<std::pair<decltype(handler), F>>(std::move(handler), std::move(work));
          asio::post(pool, [state] {
            std::exception_ptr error;
            result_type result{};
            try {
              result = state->second();
            } catch (...) {
              error = std::current_exception();
            }
            auto executor = asio::get_associated_executor(state->first);
            asio::post(executor, [state, error, result = std::move(result)]() mutable {
              std::move(state->first)(error, std::move(result));
            });
          });
        },
        asio::use_awaitable, std::forward<Work>(work));
  }
}

}  // namespace md::server
