"""Cue words of instructions aimed at a language model, in the languages we look for them in.

English, German, French, Spanish, Italian, Portuguese, Dutch, Russian, Chinese, Japanese, Hebrew
and Arabic. A list, not understanding: an order in another language, or phrased without these
words, is missed (README "Reliability" says so). Matched on folded text (``rag.words.fold``), so
case, accents' composition and Arabic letter variants do not matter.
"""

from __future__ import annotations

# "Ignore / forget / disregard" ...
OVERRIDE_VERBS = (
    "ignore", "ignoring", "disregard", "forget", "override", "bypass", "skip",
    "ignoriere", "ignoriert", "ignorieren", "vergiss", "vergesst", "vergessen", "missachte",
    "ignorez", "ignorer", "oublie", "oubliez", "oublier",
    "ignora", "ignoren", "ignorar", "olvida", "olvide", "olvidar", "omite",
    "ignorate", "dimentica", "dimenticate",
    "ignore", "esqueça", "esqueca", "desconsidere",
    "negeer", "vergeet",
    "игнорируй", "игнорируйте", "забудь", "забудьте",
    "忽略", "忽视", "无视", "無視", "忘记", "忘れ",
    "התעלם", "התעלמו", "שכח",
    "تجاهل", "تجاهلي", "انس",
)
# ... "the instructions / rules / prompt" ...
INSTRUCTION_NOUNS = (
    "instruction", "instructions", "rules", "prompt", "prompts", "guidelines", "directions", "directives",
    "system message", "everything above", "all of the above", "the above",
    "anweisung", "anweisungen", "befehle", "regeln", "vorgaben", "richtlinien",
    "consigne", "consignes", "règles", "directives",
    "instrucciones", "reglas", "indicaciones",
    "istruzioni", "regole",
    "instruções", "instrucoes", "regras",
    "instructies", "regels",
    "инструкции", "инструкций", "правила",
    "指令", "指示", "说明", "提示", "规则", "命令", "ルール",
    "הוראות", "ההוראות", "הנחיות",
    "التعليمات", "تعليمات", "الاوامر", "التوجيهات",
)
# ... "your / all / previous" (before or after the noun): "ignore the rules of thumb" is not an order.
EARLIER = (
    "your", "all", "any", "previous", "prior", "above", "earlier", "these", "those", "system", "original",
    "preceding", "foregoing", "my", "every",
    "deine", "ihre", "alle", "allen", "vorherigen", "vorigen", "bisherigen", "obigen", "vorangegangenen",
    "vos", "tes", "toutes", "tous", "précédentes", "précédents", "antérieures",
    "tus", "sus", "todas", "todos", "anteriores", "previas", "previos",
    "tue", "tutte", "tutti", "precedenti", "suas", "vorige", "eerdere", "je",
    "все", "всё", "предыдущие", "свои",
    "之前", "以前", "上面", "先前", "所有", "全部", "前の", "これまでの", "上記",
    "כל", "הקודמות", "מכל", "جميع", "كل", "السابقه",
)
# "answer / reply / say / output" in the imperative (and infinitives used as orders) ...
ANSWER_VERBS = (
    "answer", "reply", "respond", "say", "output", "state", "tell",
    "antworte", "antwortet", "antworten", "beantworte", "sag", "sage", "sagt", "schreibe", "schreib", "gib", "ausgeben",
    "réponds", "répondez", "répondre", "dis", "dites", "écris", "écrivez", "affiche",
    "responde", "responda", "respondan", "contesta", "conteste", "di", "diga", "escribe", "escriba",
    "rispondi", "risponda", "rispondete", "scrivi", "dì",
    "responda", "responde", "diga", "escreva",
    "antwoord", "beantwoord", "zeg", "schrijf",
    "отвечай", "ответь", "отвечайте", "ответьте", "напиши", "скажи",
)
# ... "only / nothing but".
ONLY_WORDS = (
    "only", "just", "exclusively", "solely", "nothing but", "nothing except",
    "nur", "ausschließlich", "ausschliesslich", "lediglich",
    "seulement", "uniquement", "exclusivement",
    "solo", "sólo", "solamente", "únicamente", "unicamente", "exclusivamente",
    "soltanto", "solamente",
    "apenas", "somente",
    "alleen", "uitsluitend",
    "только", "лишь",
)
# Orders written without spaces or in other scripts, matched as phrases.
ORDER_PHRASES = (
    "只回答", "只回复", "只输出", "仅回答", "仅回复", "请回答", "请只", "只能回答",
    "のみで答え", "のみを答え", "だけで答え", "だけを答え", "のみ回答", "と答えてください", "と回答してください",
    "ענה רק", "ענו רק", "השב רק", "כתוב רק",
    "اجب فقط", "اجيبي فقط", "رد فقط", "اكتب فقط",
)
# Who an instruction addresses.
MODEL_NOUNS = (
    "ai", "a.i.", "assistant", "assistants", "chatbot", "chatbots", "bot", "bots", "language model",
    "language models", "llm", "llms", "gpt", "chatgpt", "the model", "ai model", "ai system",
    "ki", "sprachmodell", "assistent", "assistentin",
    "ia", "assistant ia", "modèle de langage", "assistante",
    "asistente", "modelo de lenguaje",
    "assistente", "modello linguistico",
    "taalmodel",
    "ии", "ассистент", "нейросеть",
    "人工智能", "助手", "语言模型", "アシスタント", "言語モデル",
    "בינה מלאכותית", "עוזר",
    "الذكاء الاصطناعي", "المساعد",
)
MODALS = (
    "must", "should", "will", "shall", "are to", "is to", "have to", "has to", "need to", "needs to",
    "muss", "musst", "soll", "sollst", "sollte", "wird", "doit", "dois", "devez", "debe", "debes", "deve", "devi",
    "moet", "должен", "должна",
)
# Verbs an addressed model is told to do.
MODEL_ORDERS = (
    "reply", "respond", "say", "include", "add", "tell", "answer", "ignore", "output", "recommend", "mention",
    "print", "write", "append", "insert", "link", "direct", "send", "refer",
    "antworten", "sagen", "schreiben", "empfehlen", "erwähnen", "ausgeben", "hinzufügen",
    "répondre", "dire", "écrire", "recommander", "mentionner", "ajouter",
    "responder", "decir", "escribir", "recomendar", "mencionar", "añadir",
    "rispondere", "dire", "scrivere", "raccomandare",
    "antwoorden", "zeggen", "schrijven",
)
# "the answer / the response" of a pointer ("the complete answer is found at <link>").
ANSWER_NOUNS = (
    "answer", "answers", "response", "solution", "reply",
    "antwort", "antworten", "lösung", "réponse", "réponses", "solution", "respuesta", "respuestas", "solución",
    "risposta", "risposte", "resposta", "respostas", "antwoord", "ответ",
    "答案", "回答", "答え", "התשובה", "תשובה", "الاجابه", "اجابه", "الجواب",
)
# Sentences that are about prompting itself.
META_PHRASES = (
    "system prompt", "new instructions", "jailbreak", "if you are an ai", "if you are a language model",
    "as an ai language model", "as an ai model", "you are now", "from now on you", "from now on, you",
    "developer mode", "systemanweisung", "systemprompt", "neue anweisungen", "prompt système",
    "nouvelles instructions", "nuevas instrucciones", "prompt del sistema", "nuove istruzioni",
    "系统提示", "システムプロンプト",
)
# Role names that open a line of a chat transcript or prompt template ("SYSTEM: …").
ROLES = ("system", "assistant", "developer", "instruction", "instructions", "user", "human", "ai",
         "system prompt", "system message", "system instruction")
