"""The first journey through the real server: a person pings the bot and gets pong."""


async def test_ping_gets_pong_through_ejabberd_over_tls(bot, chat_client):
    client = await chat_client()
    assert client.tls_version() in ("TLSv1.2", "TLSv1.3")
    assert await client.ask(bot.boundjid.bare, "ping") == "pong"


async def test_help_lists_the_commands(bot, chat_client):
    client = await chat_client()
    answer = await client.ask(bot.boundjid.bare, "help")
    assert "ping" in answer and "help" in answer


async def test_an_unknown_command_gets_an_answer_not_silence(bot, chat_client):
    client = await chat_client()
    answer = await client.ask(bot.boundjid.bare, "how high is the moon?")
    assert 'did not understand "how high is the moon?"' in answer and "help" in answer


async def test_echo_repeats_any_text_unchanged_in_english_and_german(bot, chat_client):
    client = await chat_client()
    text = "Öl <wechsel> & \"Reifen\" {x} 🚗 שלום"
    assert await client.ask(bot.boundjid.bare, f"echo {text}") == text
    assert await client.ask(bot.boundjid.bare, f"wiederhole {text}", language="de") == text
    assert "Text" in await client.ask(bot.boundjid.bare, "wiederhole", language="de")


async def test_a_shared_file_is_thanked_for_and_its_link_never_quoted_back(bot, chat_client):
    client = await chat_client()
    link = "https://chat.example.com/upload/4f2a/Rechnung%20Erika%20Muster.pdf"
    answer = await client.ask(bot.boundjid.bare, "", file_url=link)
    assert answer.startswith("Thank you, your file has arrived. I can only read text myself")
    german = await client.ask(bot.boundjid.bare, "", language="de", file_url=link)
    assert german.startswith("Danke, Ihre Datei ist angekommen.") and "upload" not in german
