// The agents' port's connection cap: its size from the configuration and the descriptor
// limit, and which accepted connections are beyond it as they open and close.
#include "aggregator/connection_cap.h"

#include <catch2/catch.hpp>

using ember::aggregator::ConnectionCap;

TEST_CASE("ConnectionCap: the cap leaves descriptors in reserve", "[unit][aggregator]") {
  CHECK(ConnectionCap::Effective(0, 65536) == 65536 - ConnectionCap::kReservedDescriptors);
  CHECK(ConnectionCap::Effective(0, 1024) == 1024 - 128);
  CHECK(ConnectionCap::Effective(500, 65536) == 500);
  // Configured beyond what the descriptors allow: the descriptors win.
  CHECK(ConnectionCap::Effective(5000, 1024) == 896);
  // A limit at or below the reserve still lets one agent in.
  CHECK(ConnectionCap::Effective(0, 100) == 1);
  CHECK(ConnectionCap::Effective(10, 129) == 1);
}

TEST_CASE("ConnectionCap: connections beyond the cap are cut until others close",
          "[unit][aggregator]") {
  ConnectionCap cap(2);
  CHECK_FALSE(cap.OnAccepted());
  CHECK_FALSE(cap.OnAccepted());
  CHECK(cap.OnAccepted());  // the third
  CHECK(cap.open() == 3);
  cap.OnClosed();  // the cut one's close
  CHECK(cap.OnAccepted());
  cap.OnClosed();
  cap.OnClosed();  // one of the first two left: room for one
  CHECK_FALSE(cap.OnAccepted());
  CHECK(cap.open() == 2);
  // Closes the monitor reports for connections it never reported accepted do not underflow.
  for (int i = 0; i < 5; ++i) cap.OnClosed();
  CHECK(cap.open() == 0);
  CHECK_FALSE(cap.OnAccepted());
}
