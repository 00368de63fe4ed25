// ws_echo_beast: the Boost.Beast peer of tools/bench/ws.  An asynchronous
// websocket::stream echo server: each session reads a whole message into
// a flat_buffer and writes it back with the same type, one at a time.
//
//   ws_echo_beast PORT THREADS [deflate]
//
// THREADS threads run one io_context; each session has its own strand.
// deflate: permessage-deflate on with Beast's defaults.  Prints "ready"
// and runs until killed.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace beast     = boost::beast;
namespace websocket = beast::websocket;
namespace net       = boost::asio;
using tcp           = net::ip::tcp;

static bool use_deflate = false;

class session : public std::enable_shared_from_this<session> {
	websocket::stream<beast::tcp_stream> ws_;
	beast::flat_buffer                   buf_;

public:
	explicit session(tcp::socket &&s) : ws_(std::move(s)) {}

	void start()
	{
		// Messages up to 4 MiB, as for every peer.  Beast's default
		// timeouts are none, so idle connections stay.
		ws_.read_message_max(4u << 20);
		if (use_deflate) {
			websocket::permessage_deflate pmd;
			pmd.server_enable = true;
			ws_.set_option(pmd);
		}
		beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true));
		ws_.async_accept(beast::bind_front_handler(&session::on_accept, shared_from_this()));
	}

private:
	void on_accept(beast::error_code ec)
	{
		if (!ec) {
			read();
		}
	}

	void read()
	{
		ws_.async_read(buf_, beast::bind_front_handler(&session::on_read, shared_from_this()));
	}

	void on_read(beast::error_code ec, std::size_t)
	{
		if (ec) {
			return;
		}
		ws_.text(ws_.got_text());
		ws_.async_write(buf_.data(), beast::bind_front_handler(&session::on_write, shared_from_this()));
	}

	void on_write(beast::error_code ec, std::size_t)
	{
		if (ec) {
			return;
		}
		buf_.consume(buf_.size());
		read();
	}
};

class listener : public std::enable_shared_from_this<listener> {
	net::io_context &ioc_;
	tcp::acceptor    acc_;

public:
	listener(net::io_context &ioc, unsigned short port) : ioc_(ioc), acc_(ioc)
	{
		tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
		acc_.open(ep.protocol());
		acc_.set_option(net::socket_base::reuse_address(true));
		acc_.bind(ep);
		acc_.listen(4096);
	}

	void accept()
	{
		// Each session on a strand of its own: with 2 threads its
		// handlers still run one at a time.
		acc_.async_accept(net::make_strand(ioc_),
		    beast::bind_front_handler(&listener::on_accept, shared_from_this()));
	}

private:
	void on_accept(beast::error_code ec, tcp::socket s)
	{
		if (!ec) {
			std::make_shared<session>(std::move(s))->start();
		}
		accept();
	}
};

int main(int argc, char **argv)
{
	if (argc < 3 || (argc == 4 && std::strcmp(argv[3], "deflate") != 0) || argc > 4) {
		std::fprintf(stderr, "usage: ws_echo_beast PORT THREADS [deflate]\n");
		return 2;
	}
	use_deflate = argc == 4;
	int threads = std::atoi(argv[2]);
	net::io_context ioc(threads);
	std::make_shared<listener>(ioc, static_cast<unsigned short>(std::atoi(argv[1])))->accept();
	std::printf("ready\n");
	std::fflush(stdout);
	std::vector<std::thread> more;
	for (int i = 1; i < threads; i++) {
		more.emplace_back([&ioc] { ioc.run(); });
	}
	ioc.run();
	return 0;
}
