// ZapHandler's thread answering ZAP requests (RFC 27) over inproc while another thread swaps
// the authorized keys.
#include "aggregator/zap_handler.h"

#include <array>
#include <thread>

#include <catch2/catch.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

using namespace ember;
using namespace ember::aggregator;

namespace {

struct Reply {
  std::string status, user;
};

Reply Ask(zmq::socket_t& req, const std::string& key32, const std::string& id) {
  std::array<zmq::const_buffer, 7> parts = {zmq::str_buffer("1.0"),   zmq::buffer(id),
                                            zmq::str_buffer("ember"), zmq::str_buffer("127.0.0.1"),
                                            zmq::buffer("", 0),       zmq::str_buffer("CURVE"),
                                            zmq::buffer(key32)};
  zmq::send_multipart(req, parts);
  std::vector<zmq::message_t> reply;
  REQUIRE(zmq::recv_multipart(req, std::back_inserter(reply)));
  REQUIRE(reply.size() == 6);
  CHECK(reply[1].to_string() == id);
  return {reply[2].to_string(), reply[4].to_string()};
}

std::string Z85(const std::string& key32) {
  char z85[41];
  zmq_z85_encode(z85, reinterpret_cast<const uint8_t*>(key32.data()), 32);
  return z85;
}

}  // namespace

TEST_CASE("ZapHandler: known keys get their name, others are refused and counted",
          "[aggregator][threads][unit]") {
  zmq::context_t ctx(1);
  const std::string web1(32, 'w'), intruder(32, 'i');
  auto zap = ZapHandler::Start(ctx, {{Z85(web1), "web1"}});
  REQUIRE(zap.ok());
  zmq::socket_t req(ctx, zmq::socket_type::req);
  req.set(zmq::sockopt::rcvtimeo, 5000);
  req.connect("inproc://zeromq.zap.01");
  Reply ok = Ask(req, web1, "1");
  CHECK(ok.status == "200");
  CHECK(ok.user == "web1");
  Reply refused = Ask(req, intruder, "2");
  CHECK(refused.status == "400");
  CHECK(refused.user.empty());
  CHECK((*zap)->refused() == 1);
  // The keys change while requests keep coming (SIGHUP on the pipeline thread).
  std::thread reloader([&] {
    for (int i = 0; i < 200; ++i) {
      (*zap)->SetAuthorized({{Z85(web1), "web1"}, {Z85(intruder), "web2"}});
    }
  });
  for (int i = 0; i < 50; ++i) CHECK(Ask(req, web1, std::to_string(i)).status == "200");
  reloader.join();
  CHECK(Ask(req, intruder, "last").user == "web2");
  req.close();
  zap->reset();
}
