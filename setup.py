"""Botschaft: a self-hosted XMPP business messenger with a bot framework."""

from setuptools import find_packages, setup

setup(
    name="botschaft",
    version="0.1.0",
    description="Business messaging on your own XMPP server: bots for status queries, "
                "daily lessons and group rooms, reachable from any Jabber client.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["bots", "bots.*", "plugins", "plugins.*",
                                    "server_bridge", "server_bridge.*"]),
    package_data={"": ["locale/*.po", "*.toml", "*.yaml", "courses/*.yaml"]},
    data_files=[("share/botschaft", ["ejabberd.yml"])],
    install_requires=[
        "slixmpp>=1.17",
        "twisted>=24.3",
        "peewee>=3.17",
        "click>=8.1",
        "babel>=2.12",
        "prometheus_client>=0.20",
        "pyyaml>=6.0",
        "matplotlib>=3.8",
        "segno>=1.6",
        "pillow>=10.0",
        "python-json-logger>=3.1",  # [log] format = "json"
    ],
    extras_require={
        "postgres": ["psycopg[binary]>=3.1"],
        # the WhatsApp bridge's HTTPS client (to Meta, and files to the XMPP server's upload):
        # aiohttp, which slixmpp's XEP-0363 plugin imports too
        "whatsapp": ["aiohttp>=3.9"],
        "test": [
            "pytest>=8.0",
            "pytest-asyncio>=0.24",
            "pytest-timeout>=2.3",
            "hypothesis>=6.100",
            "selenium>=4.20",
            "zxing-cpp>=2.2",
            "aiohttp>=3.9",  # slixmpp's HTTP upload (XEP-0363) client, in the upload tests
        ],
    },
    entry_points={
        "console_scripts": ["botschaft = bots.cli:main"],
        "botschaft.plugins": ["ping = plugins.ping:Ping", "status = plugins.status:Status",
                              "lessons = plugins.lessons:Lessons", "rooms = plugins.rooms:Rooms",
                              "announce = plugins.announce:Announce",
                              "support = plugins.support:Support",
                              "whatsapp = server_bridge.whatsapp.privacy:WhatsAppData"],
    },
)
