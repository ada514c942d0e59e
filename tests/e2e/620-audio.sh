#!/bin/bash
# POST /v1/audio-to-text and /v1/text-to-audio through the fake
# upstream's /audio/transcriptions and /audio/speech: the features that
# gate them, Dify's errors in order, the model and voice settings, the
# audio streamed back, speech of a stored message, and the offline
# provider, which has no speech.
. "$(dirname "$0")/../lib.sh"
plan 33
start_fake_upstream
# a second provider that wants a key we do not have
python3 "$ROOT/tests/fake-upstream/fake_upstream.py" --port-file "$T/locked.port" \
    --require-key sk-right > /dev/null 2>&1 &
PIDS="$PIDS $!"
for i in $(seq 1 200); do [ -s "$T/locked.port" ] && break; sleep 0.05; done
export DIFYCGI_PROVIDER_LOCKED_BASE_URL="http://127.0.0.1:$(cat "$T/locked.port")/v1"
export DIFYCGI_PROVIDER_LOCKED_API_KEY=sk-wrong
export DIFYCGI_PROVIDER_MUTE_BASE_URL="$DIFYCGI_PROVIDER_FAKE_BASE_URL"
export DIFYCGI_PROVIDER_MUTE_STT_MODEL=none DIFYCGI_PROVIDER_MUTE_TTS_MODEL=none
start_server
on='--feature speech_to_text=on --feature text_to_speech=on'
read -r A KA <<<"$(new_app chat --provider fake --model echo $on)"
read -r B KB <<<"$(new_app chat --provider fake --model echo)"
read -r F KF <<<"$(new_app chat $on)"
read -r G KG <<<"$(new_app chat --provider locked --model echo $on)"
read -r M KM <<<"$(new_app chat --provider mute --model echo $on)"
read -r U KU <<<"$(new_app completion --provider nowhere --model x $on)"
cat > "$T/voice.json" <<'JSON'
{"text_to_speech": {"enabled": true, "voice": "nova", "language": "en-US"}}
JSON
read -r V KV <<<"$(new_app chat --provider fake --model echo --config "$T/voice.json")"

stt() { k=$1; shift; req POST /v1/audio-to-text "$k" "$@"; }
tts() { jreq POST /v1/text-to-audio "$1" "$2" 2>/dev/null; }
printf 'ID3\4\0\0\0\0\0\0' > "$T/a.mp3"
head -c 5000 /dev/urandom >> "$T/a.mp3"

stt "$KA" -F "file=@$T/a.mp3;type=audio/mpeg" -F user=u1
check "speech to text answers the provider's text" body_is '. == {"text": "fake transcription of 5010 bytes"}'
check "the provider got the audio on /audio/transcriptions" bash -c "
    grep -q '\"_path\":\"/v1/audio/transcriptions\"' '$T/fake.log'"
check "the end user of the form exists" test \
    "$(sql "SELECT count(*) FROM end_users WHERE app_id = '$A' AND session_id = 'u1'")" = 1
stt "$KA" -F "audio_file=@$T/a.mp3;type=audio/mp3"
check "the old SDKs' audio_file part is taken too" body_is '.text == "fake transcription of 5010 bytes"'

stt "$KB" -F "file=@$T/a.mp3;type=audio/mpeg"
check "speech to text off: 400 speech_to_text_disabled" \
    expect_error 400 speech_to_text_disabled "Speech to text is disabled."
stt "$KA" -F user=u1
check "no audio: 400 no_audio_uploaded" expect_error 400 no_audio_uploaded "Please upload your audio."
stt "$KA" -F "file=@$T/a.mp3;type=audio/ogg"
check "an audio type Dify does not take: 415" expect_error 415 unsupported_audio_type "Audio type not allowed."
stt "$KA" -F "file=@$T/a.mp3;type=text/plain"
check "a type that is no audio: 415" expect_error 415 unsupported_audio_type "Audio type not allowed."
head -c $((30 * 1024 * 1024 + 1)) /dev/zero > "$T/long.wav"
stt "$KA" -F "file=@$T/long.wav;type=audio/wav"
check "audio over 30 MB: 413 audio_too_large" expect_error 413 audio_too_large "Audio size larger than 30 mb"
check "no temporary file is left" test -z "$(ls -A "$T/files/.tmp" 2>/dev/null)"
stt "$KF" -F "file=@$T/a.mp3;type=audio/mpeg"
check "the offline provider: 400 provider_not_support_speech_to_text" \
    expect_error 400 provider_not_support_speech_to_text "Provider not support speech to text."
stt "$KM" -F "file=@$T/a.mp3;type=audio/mpeg"
check "a provider whose STT_MODEL is none has no speech to text either" \
    expect_error 400 provider_not_support_speech_to_text "Provider not support speech to text."
stt "$KG" -F "file=@$T/a.mp3;type=audio/mpeg"
check "a provider refusing our key: 400 provider_not_initialize" \
    body_is '.status == 400 and .code == "provider_not_initialize"'
stt "$KU" -F "file=@$T/a.mp3;type=audio/mpeg"
check "a provider that is not configured: 400 provider_not_initialize" \
    expect_error 400 provider_not_initialize "No valid model provider credentials found. Please go to Settings -> Model Provider to complete your provider credentials."

# text to speech
: > "$T/fake.log"
tts "$KA" '{"text":"Hello there.","user":"u1"}'
check "text to speech answers 200 audio/mpeg" bash -c "
    [ '$STATUS' = 200 ] && grep -qi '^Content-Type: audio/mpeg' '$T/headers'"
check "the bytes are the provider's MP3" bash -c "
    head -c 3 '$T/body' | grep -q ID3 && [ \$(stat -c %s '$T/body') = 270 ]"
check "the provider got model tts-1, the text, voice alloy and mp3" bash -c "
    grep '/audio/speech' -v '$T/fake.log' | tail -1 | jq -e '. == {\"model\":\"tts-1\",
    \"input\":\"Hello there.\",\"voice\":\"alloy\",\"response_format\":\"mp3\"}' >/dev/null"
tts "$KA" '{"text":"Hi","voice":"echo"}'
check "the request's voice wins" bash -c "tail -1 '$T/fake.log' | jq -e '.voice == \"echo\"' >/dev/null"
tts "$KV" '{"text":"Hi"}'
check "else the app's text_to_speech.voice" bash -c "tail -1 '$T/fake.log' | jq -e '.voice == \"nova\"' >/dev/null"
long=$(python3 -c 'print(("A sentence of some length. " * 340).strip())')
tts "$KA" "{\"text\":\"$long\"}"
check "long text is spoken in pieces cut at sentence ends" bash -c "
    [ \$(stat -c %s '$T/body') = 810 ] && tail -3 '$T/fake.log' | jq -s -e '
    length == 3 and all(.[]; (.input | length) <= 4000 and (.input | endswith(\".\")))' >/dev/null"

jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"speak","user":"u1","auto_generate_name":false}'
MID=$(printf '%s' "$BODY" | jq -r .id)
ANSWER=$(printf '%s' "$BODY" | jq -r .answer)
tts "$KA" "{\"message_id\":\"$MID\",\"text\":\"ignored\",\"user\":\"u1\"}"
check "message_id speaks that message's answer, before text" bash -c "
    [ '$STATUS' = 200 ] && tail -1 '$T/fake.log' | jq -e --arg a '$ANSWER' '.input == \$a' >/dev/null"
# issue 11: a message id reaches only its own end user's message, as
# every other id does; another user's is unknown: no audio (Dify's answer
# for a message it does not find), and nothing is spoken
spoken=$(wc -l < "$T/fake.log")
tts "$KA" "{\"message_id\":\"$MID\",\"user\":\"u2\"}"
check "another end user's message is unknown: 200 null" bash -c "
    [ '$STATUS' = 200 ] && [ \"\$(cat '$T/body')\" = null ]"
tts "$KA" "{\"message_id\":\"$MID\",\"text\":\"ignored\"}"
check "so is it without a user (the default end user)" bash -c "
    [ '$STATUS' = 200 ] && [ \"\$(cat '$T/body')\" = null ]"
check "and its answer went to no provider" [ "$(wc -l < "$T/fake.log")" = "$spoken" ]
tts "$KA" '{"message_id":"0f0f0f0f-0000-4000-8000-000000000000"}'
check "an unknown message gives no audio: 200 null, as Dify" bash -c "
    [ '$STATUS' = 200 ] && [ \"\$(cat '$T/body')\" = null ]"
tts "$KV" "{\"message_id\":\"$MID\",\"user\":\"u1\"}"
check "another app's message is unknown here" bash -c "[ '$STATUS' = 200 ] && [ \"\$(cat '$T/body')\" = null ]"

tts "$KB" '{"text":"Hi"}'
check "text to speech off: 400 'TTS is not enabled'" expect_error 400 invalid_param "TTS is not enabled"
tts "$KA" '{"user":"u1"}'
check "no text and no message: 400 'Text is required'" expect_error 400 invalid_param "Text is required"
req POST /v1/text-to-audio "$KA" -d 'text=hi'
check "the body must be JSON: 415" body_is '.status == 415 and .code == "unsupported_media_type"'
tts "$KF" '{"text":"Hi"}'
check "the offline provider has no voice" expect_error 400 invalid_param "Sorry, no voice available."
tts "$KM" '{"text":"Hi"}'
check "nor a provider whose TTS_MODEL is none" expect_error 400 invalid_param "Sorry, no voice available."
tts "$KG" '{"text":"Hi"}'
check "a provider refusing our key: provider_not_initialize, not audio" \
    body_is '.status == 400 and .code == "provider_not_initialize"'
check "the provider key appears in no reply or log" bash -c "! grep -rq sk-wrong '$T/body' '$T/srv'"
finish
