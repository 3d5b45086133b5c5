"""The opt-in WhatsApp bridge: a component (XEP-0114) at whatsapp.<domain> that relays between
the bots and the people who agreed to be reached on WhatsApp, through Meta's Cloud API.
A process of its own (`botschaft bridge run`); the bot never imports it."""
