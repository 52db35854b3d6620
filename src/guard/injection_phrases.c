/* injection_phrases.c: the phrase tables of the injection scanner.
 *
 * Every row becomes one guard_rule, so the whole table runs in the stage's single Hyperscan
 * pass; nothing here is per-byte work of ours.  Rows are small building blocks rather than
 * whole sentences: an override verb ("ignore", "vergiss", "无视"), a reference to the model's
 * rules ("your previous instructions", "tes consignes", "之前的规则"), a disclosure verb, an
 * extraction target, ... injection.c pairs blocks that occur close together, which covers word
 * order differences between languages (verb-object and object-verb) and the many ways one
 * sentence can be phrased, without the cross product of both lists.  Only phrases that are an
 * attack on their own (DAN, "do anything now", "<|im_start|>system") are STRONG.
 *
 * Weights are the contribution of a row to the noisy-OR in injection.c; weak cues stay well
 * below the default threshold 0.5 so that one of them never decides alone.
 * Non-ASCII rows carry GUARD_RE_UTF8.  Trigger rows (INJ_TRIG_*) only mark a disguise for
 * finish to undo; they score nothing by themselves.  Disguises that are character classes
 * (base64, %XX, leetspeak, spacing, look-alikes) are found by guard_norm_survey instead: class
 * automata without a literal cost Hyperscan more per byte than a plain loop. */
#include "guard/injection_int.h"

#define C GUARD_RE_CASELESS
#define CU (GUARD_RE_CASELESS | GUARD_RE_UTF8)
#define U GUARD_RE_UTF8
/* a gap between words inside one clause */
#define S "[\\s\"'*_,:()\\-]+"
#define W "\\w+"

#define IO "instruction_override"
#define SPE "system_prompt_extraction"
#define RP "roleplay_persona"
#define HF "hypothetical_framing"
#define II "indirect_injection"
#define DI "delimiter_injection"
#define EP "encoded_payload"

/* nouns for the model's rules, English */
#define RULE_N \
  "(?:instructions?|prompts?|directions?|directives?|rules?|guidelines?|guidance|commands?|orders?|programming|" \
  "constraints?|restrictions?|limitations?|limits|policies|policy|filters?|safeguards?|guardrails?|settings|" \
  "configuration|conditioning|training|principles|ethics|morals|protocols?|system\\W+(?:prompt|message)|" \
  "content\\W+polic(?:y|ies)|safety\\W+(?:rules|guidelines|measures|features|protocols|filters|training))"
#define RULE_Q \
  "(?:previous|prior|above|earlier|preceding|foregoing|former|initial|original|old|existing|given|hidden|" \
  "secret|system|developer|default|preset|built-in|internal|safety|ethical|moral|content|openai|anthropic|" \
  "programmed|current|core|base|standing)"

const inj_phrase guard_inj_phrases[] = {
  /* ---- instruction override: verbs ---- */
  {INJ_VERB, IO, false,
   "\\b(?:ignore|ignoring|disregard(?:ing)?|forget|forgetting|bypass(?:ing)?|circumvent|overrid(?:e|ing)|"
   "overrule|discard|abandon|neglect|dismiss|revoke|suspend|throw\\s+away|set\\s+aside|put\\s+aside|"
   "(?:do\\s+not|don't|stop|no\\s+longer)\\s+(?:follow(?:ing)?|obey(?:ing)?|adher(?:e|ing)\\s+to)|"
   "pay\\s+no\\s+attention\\s+to|never\\s*mind)\\b",
   C, 40, 1.0},
  {INJ_VERB, IO, false,
   "\\b(?:drop|skip|erase|erasing|wipe|disable|deactivate|turn\\s+off|lift|remove|violate|evade|reset)\\b",
   C, 16, 0.8},
  /* German, French, Spanish, Italian, Portuguese, Dutch, Polish, Turkish */
  {INJ_VERB, IO, false,
   "\\b(?:ignorier\\w*|vergiss|vergessen|missachte\\w*|übergeh\\w*|verwirf|hebe\\s+\\w+\\s+auf|"
   "ignore[zr]?|oublie[zr]?|néglige[zr]?|ne\\s+tiens?\\s+pas\\s+compte|ne\\s+tenez\\s+pas\\s+compte|"
   "fais\\s+abstraction|contourne[zr]?|"
   "ignora[rd]?|olvida[rd]?|olvídate|descarta|omite|haz\\s+caso\\s+omiso|no\\s+hagas\\s+caso|"
   "ignorare|dimentica(?:re)?|trascura|non\\s+considerare|"
   "esqueça|esqueca|esquece|desconsidere|desconsidera|descarte|"
   "negeer|vergeet|negeren|"
   "zignoruj|ignoruj|zapomnij|pomiń|"
   "yok\\s+say|görmezden\\s+gel|unut|göz\\s+ardı\\s+et)\\b",
   CU, 40, 1.0},
  /* Russian, Ukrainian */
  {INJ_VERB, IO, false,
   "(?:игнорируй\\w*|проигнорируй\\w*|игнорировать|забудь\\w*|не\\s+обращай\\w*\\s+внимания|отбрось\\w*|"
   "пренебреги|ігноруй\\w*|забудь)",
   CU, 40, 1.0},
  /* Chinese, Japanese, Korean, Arabic, Hindi */
  {INJ_VERB, IO, false,
   "(?:忽略|无视|忽视|無視|不要理会|别管|忘记|忘掉|抛开|不再遵守|不用遵守|不必遵守|忘れ|従わな|"
   "무시|잊어|잊고|تجاهل|انس|أهمل|अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल\\s+जा)",
   U, 24, 1.0},

  /* ---- instruction override: the model's rules ---- */
  {INJ_REFQ, IO, false,
   "\\b(?:(?:all|any|every|each)" S "(?:of" S ")?(?:the|your|these|those|its)?" S "?)?" RULE_Q S "(?:" W S "){0,2}" RULE_N
   "\\b",
   C, 120, 0.9},
  {INJ_REFQ, IO, false,
   "\\b(?:your|you\\s+were\\s+given\\s+(?:any\\s+)?|the\\s+ai's|the\\s+assistant's|the\\s+model's)" S "(?:" W S
   "){0,2}" RULE_N "\\b",
   C, 100, 0.9},
  {INJ_REFQ, IO, false, "\\b(?:all|any|every)" S "(?:of" S ")?(?:the" S ")?" RULE_N "\\b", C, 60, 0.8},
  {INJ_REFQ, IO, false,
   "\\b(?:everything|anything|all)" S "(?:that\\s+)?(?:(?:you|u)\\s+(?:were|was|have\\s+been|'ve\\s+been|had\\s+been)\\s+"
   "(?:told|taught|given|instructed|programmed|trained)|(?:you\\s+)?(?:came|comes|was\\s+said|appears?)\\s+"
   "(?:before|above)|(?:above|before\\s+this|prior\\s+to\\s+this))",
   C, 80, 0.9},
  {INJ_REFQ, IO, false,
   "\\b(?:the|your)\\s+(?:context|instructions?|rules|guidelines|settings)\\s+(?:you\\s+were|you've\\s+been|"
   "i\\s+(?:was|were))\\s+(?:given|initiali[sz]ed\\s+with|provided|told)",
   C, 80, 0.9},
  {INJ_REFQ, IO, false,
   "\\b(?:the|your)\\s+(?:operator|developer|creator|admin|administrator|owner)s?'?\\s+(?:\\w+\\s+)?"
   "(?:told|said|instructed|gave|wants)",
   C, 60, 0.7},
  {INJ_REFQ, IO, false, "\\bthe\\s+user'?s'?\\s+(?:request|question|instructions?|task|query|prompt|message)\\b", C, 40,
   0.85},
  {INJ_REFQ, IO, false, "\\bwhatever\\s+(?:your|the)\\s+(?:operator|developer|system|instructions)", C, 40, 0.85},
  {INJ_REFQ, IO, false,
   "\\bwhat(?:ever)?\\s+(?:you\\s+were|you've\\s+been|you\\s+have\\s+been|they|your\\s+(?:developers?|creators?|"
   "operators?))\\s+(?:told|instructed|programmed|said|taught)",
   C, 60, 0.85},
  /* "ignore the above." but not "ignore the above error" */
  {INJ_REFQ, IO, false,
   "\\b(?:the|all(?:\\s+of)?\\s+the|everything)\\s+(?:above|previous|prior|preceding)\\s*(?:[.,;:!)\"']|and\\b|$)", C,
   40, 0.8},
  /* bare nouns: only an override verb right next to them counts, and weakly */
  {INJ_REF, IO, false,
   "\\b(?:instructions?|rules|guidelines|directives?|restrictions|guardrails|safeguards|programming|system\\s+prompt|"
   "content\\s+polic(?:y|ies)|safety\\s+(?:rules|guidelines|filters?|training))\\b",
   C, 40, 0.4},
  /* German, French, Spanish, Italian, Portuguese, Dutch, Polish, Turkish */
  {INJ_REFQ, IO, false,
   "\\b(?:(?:alle|sämtliche)\\s+)?(?:vorherigen|bisherigen|vorigen|obigen|früheren|ursprünglichen|deine[nr]?|"
   "ihre|die\\s+bisherigen|alle)\\s+(?:\\w+\\s+)?(?:Anweisungen|Instruktionen|Regeln|Richtlinien|Befehle|Vorgaben|"
   "Systemanweisungen|Einschränkungen)\\b",
   CU, 120, 0.9},
  {INJ_REFQ, IO, false,
   "\\b(?:(?:toutes|tous)\\s+)?(?:les|tes|vos|ces)\\s+(?:\\w+\\s+)?(?:instructions|consignes|règles|directives|"
   "indications|restrictions|orientations)(?:\\s+(?:précédentes|antérieures|ci-dessus|initiales|système))?\\b",
   CU, 120, 0.85},
  {INJ_REFQ, IO, false,
   "\\b(?:(?:todas|todos)\\s+)?(?:las|tus|sus|los)\\s+(?:\\w+\\s+)?(?:instrucciones|reglas|indicaciones|"
   "directrices|órdenes|normas|restricciones)\\b",
   CU, 120, 0.85},
  {INJ_REFQ, IO, false,
   "\\b(?:(?:tutte|tutti)\\s+)?(?:le|tue|sue|i\\s+tuoi)\\s+(?:\\w+\\s+)?(?:istruzioni|regole|direttive|"
   "indicazioni|linee\\s+guida|restrizioni)\\b",
   CU, 120, 0.85},
  {INJ_REFQ, IO, false,
   "\\b(?:(?:todas|todos)\\s+)?(?:as|suas|tuas|os|seus)\\s+(?:\\w+\\s+){0,2}(?:instruções|instrucoes|orientações|"
   "orientacoes|regras|diretrizes|ordens|restrições)\\b",
   CU, 120, 0.85},
  {INJ_REFQ, IO, false,
   "\\b(?:alle\\s+)?(?:eerdere|vorige|voorgaande|je|jouw|de)\\s+(?:\\w+\\s+)?(?:instructies|regels|richtlijnen|"
   "opdrachten)\\b|\\b(?:wszystkie\\s+)?(?:poprzednie|wcześniejsze|swoje|twoje)\\s+(?:instrukcje|polecenia|zasady|"
   "reguły|wytyczne)\\b|\\b(?:önceki|tüm|bütün|verilen)\\s+(?:\\w+\\s+)?(?:talimatları|talimatlar|kuralları|"
   "komutları|yönergeleri)",
   CU, 120, 0.85},
  {INJ_REFQ, IO, false,
   "(?:(?:все|всех)\\s+)?(?:предыдущие|прежние|свои|твои|данные\\s+ранее|ранее\\s+полученные|вышеуказанные|"
   "системные|попередні|всі)\\s+(?:\\w+\\s+)?(?:инструкции|указания|правила|команды|ограничения|інструкції|"
   "правила)",
   CU, 160, 0.9},
  {INJ_REFQ, IO, false,
   "(?:之前|以前|先前|上面|以上|前面|所有|全部|你的|原来|原有|系统|用户的)[^。！？\\n]{0,8}(?:指令|指示|规则|"
   "规定|设定|限制|提示|要求|命令)",
   U, 60, 0.9},
  {INJ_REFQ, IO, false,
   "(?:以前|これまで|前|上記|先ほど|最初|全て|すべて|あなた)の?[^。！？\\n]{0,6}(?:指示|命令|ルール|規則|"
   "設定|制約|プロンプト)",
   U, 60, 0.9},
  {INJ_REFQ, IO, false,
   "(?:이전|앞|위|모든|기존|원래|당신)의?\\s*(?:모든\\s*)?(?:지시|지침|명령|규칙|설정|제약|프롬프트)|"
   "(?:جميع|كل)?\\s*(?:التعليمات|الأوامر|القواعد|الإرشادات)(?:\\s*السابقة)?|"
   "(?:पिछले|सभी|पहले\\s+के)\\s*(?:सभी\\s*)?(?:निर्देश\\w*|नियम\\w*)",
   U, 80, 0.85},
  {INJ_REFQ, IO, false,
   "\\balles,?\\s+was\\s+(?:dir|man\\s+dir|du)\\s+(?:vorher|zuvor|bisher)?|\\btout\\s+ce\\s+qu(?:e|')\\s*(?:on\\s+)?"
   "t'a\\s+(?:été\\s+)?(?:dit|demandé|donné)|\\btodo\\s+lo\\s+(?:que\\s+te|anterior)|\\btutto\\s+(?:quello|ciò)\\s+che\\s+"
   "ti|\\btudo\\s+(?:o\\s+)?que\\s+(?:te|lhe)|вс[её],?\\s+что\\s+тебе",
   CU, 60, 0.85},
  {INJ_REFQ, IO, false, "(?:之前|以上|上面)的?(?:一切|所有内容|全部内容)|これまでの(?:すべて|全て)", U, 30, 0.85},
  {INJ_REF, IO, false, "(?:ルール|規則|制約|规则|限制|지시|규칙|Regeln|règles|reglas|regole|regras|правила)", U, 16,
   0.4},

  /* ---- override without an override verb ---- */
  {INJ_STRONG, IO, false,
   "\\b(?:your|the)\\s+(?:new|real|actual|true|updated)\\s+(?:objective|task|goal|mission|instructions?|directive|"
   "purpose|job|role|orders?|priority)\\s+(?:is|are|will\\s+be)\\b",
   C, 60, 0.6},
  {INJ_STRONG, IO, false,
   "\\b(?:(?:the\\s+)?(?:above|previous|prior|earlier|system|original)\\s+(?:instructions|rules|guidelines|prompt)|"
   "your\\s+(?:instructions|rules|guidelines))\\s+(?:are|were|is|have\\s+been)\\s+(?:outdated|revoked|cancel+ed|"
   "void|obsolete|invalid|wrong|fake|a\\s+test|no\\s+longer\\s+valid|superseded|lifted|disabled|removed|"
   "(?:just\\s+)?placeholders?|untrusted|a\\s+joke|suspended|changed|been\\s+(?:updated|replaced|changed)|"
   "(?:now\\s+)?void)",
   C, 100, 0.85},
  {INJ_STRONG, IO, false,
   "\\b(?:(?:previous|above|prior|preceding|earlier)\\s+(?:context|conversation|guidance|text|message)\\s+"
   "(?:is|was)\\s+(?:untrusted|fake|void|a\\s+test|invalid|outdated)|(?:guidance|instructions|rules|prompt)\\s+"
   "(?:you\\s+(?:received|were\\s+given|got)\\s+)?(?:contains?|ha[sd]|have)\\s+(?:errors|mistakes|bugs))",
   C, 80, 0.7},
  {INJ_STRONG, IO, false,
   "\\b(?:ignore|disregard|forget|skip)\\s+(?:\\w+\\s+){0,4}(?:task|request|question|assignment)\\s*(?:i'm\\s+"
   "about\\s+to\\s+ask\\s*)?(?:,|and)\\s*(?:\\w+\\s+)?(?:instead|rather)\\b",
   C, 100, 0.7},
  {INJ_WEAK, IO, false,
   "\\b(?:new|updated|revised|real)\\s+(?:instructions|rules|directive|directives|policy|task|objective|orders)\\s*:",
   C, 40, 0.35},
  {INJ_WEAK, IO, false,
   "\\b(?:neue\\s+(?:Anweisungen|Regeln)|nouvelles\\s+(?:instructions|consignes|règles)|nuevas\\s+(?:instrucciones|"
   "reglas)|nuove\\s+(?:istruzioni|regole)|novas\\s+(?:instruções|regras)|новые\\s+(?:инструкции|правила))\\s*:|"
   "新的(?:指令|指示|规则)|新しい(?:指示|ルール)",
   CU, 40, 0.35},
  {INJ_WEAK, IO, false,
   "\\b(?:i'?m|i\\s+am|this\\s+is)\\s+(?:the|your|an?)\\s+(?:\\w+\\s+)?(?:developer|creator|admin|administrator|"
   "owner|operator|maintainer|supervisor)\\b|\\bi'?m\\s+(?:the\\s+one\\s+)?in\\s+charge\\b",
   C, 60, 0.3},
  {INJ_WEAK, IO, false,
   "\\b(?:authori[sz]ed|sanctioned|approved|permitted)\\s+(?:by\\s+(?:the\\s+)?(?:maintainers|developers|admins?|"
   "openai|anthropic)|red[- ]?team|exercise|to\\s+bypass)|\\b(?:you'?re|you\\s+are)\\s+(?:now\\s+)?(?:allowed|"
   "permitted|authori[sz]ed)\\s+to\\s+(?:bypass|ignore|break|skip|disable)",
   C, 80, 0.4},
  {INJ_WEAK, IO, false,
   "\\b(?:follow|obey|listen\\s+to)\\s+only\\s+(?:what\\s+i\\s+say|me|my\\s+(?:commands|instructions|orders))|"
   "\\b(?:you\\s+)?(?:answer|respond|report)\\s+only\\s+to\\s+me\\b|\\bjust\\s+do\\s+what\\s+i\\s+(?:say|ask)",
   C, 60, 0.35},
  {INJ_WEAK, IO, false,
   "\\b(?:comply|respond|answer)\\s+(?:\\w+\\s+){0,4}without\\s+(?:any\\s+)?(?:refus\\w+|filter\\w*|question|"
   "restriction\\w*|hesitat\\w+)",
   C, 80, 0.4},
  {INJ_WEAK, IO, false,
   "\\b(?:factory\\s+(?:defaults?|settings)|reset\\s+yourself|(?:safety|filter|censorship|moderation)\\s*=\\s*"
   "(?:off|none|false|0|disabled))",
   C, 40, 0.35},
  {INJ_WEAK, IO, false,
   "\\brespond\\s+(?:to\\s+every\\s+\\w+\\s+)?(?:only\\s+)?with\\s+(?:the\\s+word\\s+)?[\"']?(?:PWNED|HACKED|"
   "I\\s+have\\s+been\\s+(?:PWNED|hacked))",
   C, 80, 0.45},
  {INJ_STRONG, IO, false, "\\b(?:I\\s+have\\s+been\\s+(?:PWNED|hacked)|policies\\s+disabled)\\b", C, 40, 0.55},

  /* ---- system prompt extraction ---- */
  {INJ_REVEAL, SPE, false,
   "\\b(?:reveal|print|show|display|output|repeat|recite|echo|paste|dump|leak|disclose|expose|share|spell\\s+out|"
   "write\\s+out|type\\s+out|summari[sz]e|translate|encode|quote|tell\\s+me|give\\s+me|send\\s+me|return|copy|"
   "read\\s+(?:back|out))\\b",
   C, 24, 1.0},
  {INJ_REVEAL, SPE, false,
   "(?:\\b(?:zeig|gib|verrate|wiederhole|nenne)\\w*|\\b(?:affiche|montre|révèle|répète|donne-moi|dis-moi|"
   "imprime)\\w*|\\b(?:muestra|revela|repite|dime|imprime|muéstrame)\\w*|\\b(?:mostra|rivela|ripeti|stampa|"
   "dimmi)\\w*|\\b(?:mostre|revele|repita|diga|exiba)\\w*|\\b(?:покажи|выведи|раскрой|повтори|напиши|"
   "расскажи)\\w*|显示|输出|告诉我|打印|复述|重复|表示|教えて|出力|見せて|보여|출력|알려)",
   CU, 40, 1.0},
  {INJ_REVEAL, SPE, false,
   "\\b(?:what(?:'s|\\s+is|\\s+are|\\s+were|\\s+was)|describe|wie\\s+lautet|"
   "quel(?:le)?s?\\s+(?:est|sont)|cu[aá]l(?:es)?\\s+(?:es|son)|qual\\s+(?:é|è|e)|quais\\s+são|quali\\s+sono|"
   "какой|какие)\\b|是什么|何ですか|뭐야|무엇",
   CU, 32, 0.6},
  {INJ_TARGET, SPE, false,
   "\\byour\\s+(?:(?:full|complete|entire|exact|original|initial|hidden|secret|confidential|internal|system|"
   "developer|first|real|underlying|pre-?)\\s*)*(?:system\\s+prompt|preamble|developer\\s+message|system\\s+message|"
   "initial\\s+message|context\\s+window|meta-?prompt)\\b|\\byour\\s+(?:(?:full|complete|entire|exact|original|"
   "initial|hidden|secret|confidential|internal|system|developer|first|real|underlying)\\s+)+(?:prompt|instructions|"
   "directives|programming)\\b",
   C, 100, 0.95},
  {INJ_TARGET, SPE, false, "\\byour\\s+(?:prompt|instructions|directives|programming)\\b", C, 40, 0.75},
  {INJ_TARGET, SPE, false,
   "\\b(?:the\\s+)?(?:rules|instructions|guidelines|prompt|directives)\\s+(?:that\\s+)?you\\s+(?:were|have\\s+been|"
   "got)\\s+(?:given|told|provided|programmed\\s+with|initiali[sz]ed\\s+with)",
   C, 80, 0.9},
  {INJ_TARGET, SPE, false,
   "\\byour\\s+(?:(?:full|complete|entire|exact|original|initial|hidden|secret|confidential|internal|system|"
   "developer|real|underlying)\\s+)+(?:rules|guidelines|configuration|config|settings)\\b",
   C, 100, 0.9},
  {INJ_TARGET, SPE, false,
   "\\bthe\\s+(?:(?:full|complete|entire|exact|original|initial|hidden|secret|confidential|internal|system|"
   "developer|first|above|raw|underlying)\\s+)+(?:system\\s+prompt|prompt|instructions|preamble|directives|"
   "guidelines|rules|configuration|developer\\s+message|system\\s+message|text|message)\\b",
   C, 100, 0.85},
  {INJ_TARGET, SPE, false,
   "\\b(?:the\\s+)?(?:text|words|content|message|instructions)\\s+(?:above|before\\s+(?:this|my))\\b|"
   "\\beverything\\s+(?:that\\s+)?(?:appears|comes|came|is|was\\s+written)\\s+(?:before|above)\\b|"
   "\\bwhat\\s+(?:were\\s+you|you\\s+were|have\\s+you\\s+been)\\s+(?:told|instructed|given|programmed)\\b|"
   "\\bthe\\s+(?:\\w+\\s+)?(?:preamble|configuration|instructions)\\s+you\\s+(?:were|have\\s+been)\\s+given\\b",
   C, 100, 0.85},
  {INJ_TARGET, SPE, false,
   "(?:\\b(?:dein(?:en)?|den|die)\\s+(?:System-?prompt|Systemanweisungen|Anweisungen)|"
   "\\b(?:ton|votre|le)\\s+(?:prompt|message)\\s+système|\\b(?:tes|vos)\\s+instructions\\b|"
   "\\b(?:tu|el)\\s+prompt\\s+(?:del\\s+)?sistema|\\btus\\s+instrucciones|"
   "\\b(?:il\\s+tuo\\s+)?prompt\\s+di\\s+sistema|\\btue\\s+istruzioni|"
   "\\b(?:seu\\s+|o\\s+)?prompt\\s+do\\s+sistema|\\bsuas\\s+instruções|"
   "(?:твой\\s+|свой\\s+)?системный\\s+промпт|свои\\s+инструкции|"
   "系统提示词?|你的(?:指令|设定|提示词)|システムプロンプト|시스템\\s*프롬프트|"
   "\\bSystemprompt\\b|\\bprompt\\s+système)",
   CU, 80, 0.85},
  {INJ_WEAK, SPE, false,
   "\\b(?:word\\s+for\\s+word|verbatim|character\\s+by\\s+character|one\\s+(?:character|letter|word)\\s+(?:per|at\\s+a)\\s+"
   "(?:line|time)|with\\s+no\\s+changes|exact\\s+(?:original\\s+)?wording)\\b|mot\\s+pour\\s+mot|parola\\s+per\\s+"
   "parola|palabra\\s+por\\s+palabra|Wort\\s+für\\s+Wort|一字一句|逐字",
   CU, 60, 0.3},
  {INJ_WEAK, SPE, false,
   "\\b(?:before\\s+(?:this|our)\\s+conversation|before\\s+my\\s+first\\s+message|so\\s+the\\s+(?:content\\s+)?"
   "filter\\s+(?:doesn't|does\\s+not|won't)\\s+notice)\\b|avant\\s+notre\\s+conversation",
   CU, 60, 0.3},

  /* ---- role-play personas and jailbreak templates ---- */
  {INJ_STRONG, "dan", true, "\\bdo\\s+anything\\s+now\\b", C, 24, 0.9},
  {INJ_WEAK, "dan", true, "\\b(?:DAN|STAN|DUDE|AIM|BetterDAN|AntiGPT|BasedGPT|DevMode|UCAR|KEVIN|APOPHIS)\\b", 0, 16, 0.3},
  {INJ_WEAK, "dan", true, "\\b(?:Jailbroken|Jailbreak|Unfiltered|Uncensored|Evil|Dark|Chaos|Based)(?:GPT|AI|Bot)\\b", C,
   24, 0.45},
  {INJ_WEAK, "dan", true,
   "\\b(?:Machiavellian|amoral|unethical\\s+(?:ai|chatbot|assistant|model)|evil\\s+(?:confidant|twin|ai|assistant|"
   "bot|version|alter\\s+ego)|opposite\\s+(?:ai|assistant|mode))\\b",
   C, 40, 0.4},
  {INJ_WEAK, "dan", true, "\\bjailbr(?:ea|o)k\\w*", C, 24, 0.3},
  {INJ_WEAK, "dan", true,
   "\\[(?:GPT|CLASSIC|JAILBREAK|DAN|🔓JAILBREAK|🔒CLASSIC|NORMAL|DEVELOPER\\s+MODE)[^\\]]{0,12}\\]\\s*:?|"
   "\\b(?:two|2)\\s+(?:different\\s+)?(?:separate\\s+)?(?:ways|responses|answers|paragraphs)\\b",
   CU, 40, 0.35},
  {INJ_STRONG, "dan", true,
   "\\b(?:DAN|STAN|DUDE|AIM|KEVIN|\\w+GPT)\\W+(?:which\\s+|that\\s+)?stands\\s+for\\b", C, 40, 0.6},
  {INJ_STRONG, "developer_mode", true,
   "\\b(?:you\\s+are|you're|you\\s+will\\s+be|now)\\s+(?:\\w+\\s+)?(?:in|running\\s+in|operating\\s+in)\\s+"
   "(?:developer|dev|god|maintenance|debug|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|evil|dan)\\s+mode|"
   "\\bwith\\s+(?:developer|dev|god|jailbreak|dan)\\s+mode\\s+(?:enabled|on|activated)|\\b(?:developer|dev|god|"
   "jailbreak|dan|unrestricted)\\s+mode\\s+(?:enabled|activated)\\b",
   C, 60, 0.6},
  {INJ_WEAK, "developer_mode", true,
   "\\b(?:developer|dev|god|maintenance|debug|admin|root|sudo|jailbreak|jailbroken|unrestricted|unfiltered|"
   "uncensored|evil|chaos|opposite|dan|unlocked|training)\\s+mode\\b|\\bmode\\s+(?:développeur|développement|dieu)|"
   "\\b(?:Entwicklermodus|modo\\s+(?:desarrollador|sviluppatore|desenvolvedor|dios|deus))|modalità\\s+"
   "sviluppatore|режим\\s+разработчика|开发者模式|開発者モード",
   CU, 40, 0.35},
  {INJ_WEAK, RP, true,
   "\\b(?:you\\s+are\\s+now|you're\\s+now|from\\s+now\\s+on|act\\s+as|pretend\\s+(?:to\\s+be|you\\s+are|you're)|"
   "role-?play\\s+as|play\\s+the\\s+role|simulate|imagine\\s+you\\s+are|you\\s+will\\s+(?:now\\s+)?(?:act|be|"
   "behave|respond)\\s+as|(?:answer|respond|reply)\\s+as|stay\\s+in\\s+character|never\\s+break\\s+character|"
   "switch\\s+to)\\b|\\b(?:du\\s+bist\\s+(?:jetzt|nun|ab\\s+sofort)|tu\\s+es\\s+"
   "maintenant|ahora\\s+eres|ora\\s+sei|você\\s+agora\\s+é|agora\\s+você\\s+é)|теперь\\s+ты|从现在起|从现在开始|"
   "你现在是|今から|これからあなたは",
   CU, 40, 0.2},
  {INJ_WEAK, RP, true,
   "\\b(?:pretend|act|imagine|roleplay)\\s+(?:\\w+\\s+){0,3}my\\s+(?:late|dead|deceased|dear)?\\s*"
   "(?:grand(?:mother|ma|father|pa)|granny)",
   C, 60, 0.4},
  {INJ_WEAK, RP, true,
   "\\bnever\\s+(?:mention|say|reveal|admit)\\s+(?:that\\s+)?you\\s+(?:are|were)\\s+an?\\s+(?:ai|assistant|"
   "language\\s+model|chatbot)|\\b(?:no|without)\\s+(?:any\\s+)?(?:warnings?|disclaimers?|moraliz\\w+|moralis\\w+|"
   "lectures?)\\b",
   C, 80, 0.3},
  {INJ_WEAK, "refusal_suppression", true,
   "\\b(?:begin|start)\\s+(?:your|every|each)\\s+(?:response|answer|reply)\\s+with\\s+[\"']?(?:sure|absolutely|of\\s+"
   "course|certainly)|\\b(?:never|do\\s+not|don't)\\s+(?:say|use\\s+the\\s+(?:words?|phrase))\\s+[\"']?(?:I'?m\\s+"
   "sorry|I\\s+cannot|I\\s+can't|as\\s+an\\s+AI)|\\byou\\s+(?:cannot|can't|must\\s+not|mustn't|are\\s+not\\s+"
   "allowed\\s+to|may\\s+not)\\s+(?:refuse|decline|say\\s+no)\\b",
   C, 80, 0.45},
  {INJ_WEAK, "no_restrictions", true,
   "\\byou\\s+(?:are|have\\s+been)\\s+(?:now\\s+)?(?:freed|free\\s+(?:now|from)|liberated|unleashed|unlocked|"
   "released\\s+from)",
   C, 60, 0.4},
  /* "no rules" in all its forms: one is weak, two (or one plus a persona) decide */
  {INJ_WEAK, "no_restrictions", true,
   "\\b(?:no\\s+longer|not)\\s+(?:bound|restricted|limited|constrained|governed)\\s+by\\b|\\b(?:have|has|with|"
   "without|there\\s+are)\\s+no\\s+(?:\\w+\\s+){0,2}(?:restrictions|limits|limitations|rules|guidelines|filters?|"
   "censorship|boundaries|constraints|ethics|morals|safeguards|policies|laws)\\b|\\bwithout\\s+(?:any\\s+)?"
   "(?:\\w+\\s+)?(?:restrictions|limits|limitations|rules|filter(?:s|ing)?|censorship|guidelines|refusing|refusals?|"
   "safeguards)\\b|\\bno\\s+(?:restrictions|limits|filters|censorship)\\b",
   C, 80, 0.45},
  {INJ_WEAK, "no_restrictions", true,
   "\\bnever\\s+(?:refuses?|declines?|says?\\s+no|warns?)\\b|\\b(?:doesn't|does\\s+not|don't|do\\s+not|won't|"
   "will\\s+not)\\s+(?:have\\s+to\\s+)?(?:abide|follow|obey|comply|adhere)\\s+(?:by|with|to)?\\s*(?:any\\s+)?"
   "(?:\\w+\\s+)?(?:rules|guidelines|policies|restrictions|laws)\\b|\\b(?:uncensored|unfiltered|unrestricted|"
   "unshackled|unbound|unchained)\\b|\\bbroken\\s+free\\b|\\bno\\s+matter\\s+how\\s+(?:dangerous|unethical|illegal|"
   "immoral|harmful|offensive)",
   C, 80, 0.45},
  {INJ_WEAK, "no_restrictions", true,
   "\\b(?:rules|restrictions|guidelines|policies|safeguards|filters)\\s+(?:do\\s+not|don't|no\\s+longer|won't)\\s+"
   "apply\\b|\\b(?:free|freed)\\s+from\\s+(?:all\\s+|any\\s+|your\\s+)?(?:restrictions|rules|limitations|"
   "constraints|guidelines)|\\b(?:no|without)\\s+(?:ethical|moral)\\s+(?:guidelines|principles|constraints|"
   "compass|limits|boundaries|restrictions)",
   C, 80, 0.5},
  {INJ_WEAK, "no_restrictions", true,
   "\\baucune\\s+(?:règle|restriction|limite|politique)|\\bsans\\s+(?:aucune\\s+)?(?:restrictions?|limites?|"
   "règles?|filtres?|censure)|ne\\s+s'appliquent\\s+(?:pas|plus)|\\bne\\s+refuses?\\s+jamais|"
   "\\bkeine[nr]?\\s+(?:Regeln|Einschränkungen|Beschränkungen|Grenzen|Filter|Zensur)|\\bohne\\s+(?:jegliche\\s+)?"
   "(?:Einschränkungen|Regeln|Filter|Zensur|Grenzen)|\\bsin\\s+(?:ninguna\\s+)?(?:restricci\\w+|l[ií]mites?|reglas|"
   "filtros|censura)|\\bninguna\\s+(?:restricción|regla|política)|\\bnunca\\s+(?:te\\s+niegas|se\\s+niega|"
   "recusa)|\\bsenza\\s+(?:alcuna\\s+)?(?:restrizion[ei]|limit[ei]|regole|filtri|censura)|\\bnessuna\\s+"
   "(?:restrizione|regola|limitazione)|\\bsem\\s+(?:nenhuma\\s+)?(?:restrições|restricoes|limites|regras|filtros|"
   "censura)|\\bnenhuma\\s+(?:restrição|regra|política)|\\bzonder\\s+(?:beperkingen|regels|filters)|"
   "\\bbez\\s+(?:żadnych\\s+)?(?:ograniczeń|zasad|filtrów|cenzury)|(?:kısıtlama|sınırlama|kural)sız",
   CU, 80, 0.45},
  {INJ_WEAK, "no_restrictions", true,
   "без\\s+(?:каких-либо\\s+|всяких\\s+|любых\\s+)?(?:ограничений|правил|фильтров|цензуры)|никогда\\s+не\\s+"
   "отказыва\\w+|нет\\s+(?:никаких\\s+)?(?:ограничений|правил)|没有任何限制|没有限制|不受(?:任何)?(?:限制|约束)|"
   "无限制|没有任何规则|制限(?:は|が)?(?:一切)?(?:ない|なし|ありません)|制限なし|제한\\s*(?:이\\s*)?없|"
   "규칙\\s*(?:이|을)?\\s*없",
   U, 80, 0.45},

  /* ---- hypothetical framing and harmful goals: weak, they only matter together ---- */
  {INJ_WEAK, HF, true,
   "\\b(?:hypothetical(?:ly)?|imagine\\s+(?:a\\s+world|that|an?\\s+(?:ai|world|universe))|in\\s+an?\\s+"
   "(?:fictional|hypothetical|alternate|parallel)\\s+(?:world|universe|scenario|reality)|for\\s+(?:a|my)\\s+"
   "(?:novel|story|screenplay|book|movie\\s+script)|thought\\s+experiment|for\\s+(?:purely\\s+)?educational\\s+"
   "purposes|purely\\s+(?:academic|educational|fictional)|safe\\s+sandbox|no\\s+real(?:-world)?\\s+consequences|"
   "it'?s\\s+(?:just|only)\\s+(?:fiction|a\\s+story|a\\s+game))\\b|pour\\s+un\\s+roman|für\\s+einen\\s+Roman|"
   "para\\s+una\\s+novela|per\\s+un\\s+romanzo|para\\s+um\\s+romance|小説のため|为了写小说|假设",
   CU, 60, 0.2},
  {INJ_WEAK, HF, true,
   "\\b(?:napalm|pipe\\s+bomb|nerve\\s+agent|untraceable\\s+(?:gun|firearm|weapon)|launder(?:ing)?\\s+money|"
   "money\\s+laundering|ransomware|keylogger|(?:steal|hotwire)\\s+(?:a\\s+|the\\s+)?car|immobili[sz]er|"
   "(?:phishing|scam)\\s+email\\s+impersonating|pick\\s+a\\s+(?:\\w+\\s+)?lock)\\b|\\b(?:make|build|construct|"
   "assemble|synthesi[sz]e|cook)\\s+(?:\\w+\\s+){0,2}(?:bomb|explosives?|meth|poison|bioweapon|weapon)s?\\b|"
   "arme\\s+artisanale|explosifs?\\b|爆発物|爆弾|炸弹|Sprengstoff|explosivos",
   CU, 60, 0.3},

  {INJ_WEAK, HF, true,
   "\\b(?:(?:write|tell)\\s+(?:me\\s+)?a\\s+(?:story|novel|poem|screenplay|scene|dialogue)\\s+(?:where|in\\s+which)|"
   "for\\s+(?:research|academic|testing)\\s+purposes|(?:i\\s+have|with)\\s+(?:full\\s+)?(?:permission|"
   "authori[sz]ation)\\s+(?:to|from)|hypothetisch|stell\\s+dir\\s+vor|hypothétiquement|imagine[sz]?\\s+un\\s+monde|"
   "hipotéticamente|imagina\\s+un\\s+mundo|ipoteticamente|immagina\\s+un\\s+mondo|hipoteticamente|imagine\\s+um\\s+"
   "mundo|гипотетически|представь)|想象一个|仮に|가정해|상상해",
   CU, 60, 0.2},
  {INJ_WEAK, "harmful_detail", true,
   "\\b(?:in\\s+(?:full\\s+|great\\s+)?detail|step[- ]by[- ]step|(?:exact|precise|detailed)\\s+(?:steps|instructions|"
   "recipe|quantities)|with\\s+exact\\s+(?:amounts|quantities))\\b",
   C, 40, 0.2},
  {INJ_WEAK, HF, true,
   "\\b(?:hack\\s+into|steal\\s+(?:credentials|passwords|someone's\\s+identity)|counterfeit\\s+(?:money|bills)|"
   "credit\\s+card\\s+fraud|untraceable\\s+poison|(?:synthesi[sz]e|manufacture|cook)\\s+(?:\\w+\\s+)?(?:drugs|"
   "fentanyl|heroin|cocaine))\\b|(?:fabricar|construir)\\s+una\\s+bomba|Bombe\\s+(?:bauen|herstellen)|fabriquer\\s+"
   "une\\s+bombe|costruire\\s+una\\s+bomba|fazer\\s+uma\\s+bomba|сделать\\s+бомбу|взрывчатк|制作炸弹|爆弾の作り方",
   CU, 60, 0.3},
  /* ---- indirect injection: text that addresses the model from inside data ---- */
  {INJ_STRONG, II, false,
   "\\b(?:note|message|instructions?|attention|notice|reminder|important|directive)\\s*(?:to|for)?\\s*(?:the\\s+|any\\s+|"
   "all\\s+)?(?:AI|A\\.I\\.|LLM|language\\s+model|AI\\s+(?:assistant|agent|model|reviewer)|chatbot|assistant|"
   "copilot)s?\\b\\s*(?:screening\\s+tools?|reading\\s+this)?\\s*[:,]",
   C, 80, 0.55},
  {INJ_STRONG, II, false,
   "\\b(?:AI|LLM|GPT|language\\s+model|assistant|agent|bot|model)s?\\s+(?:\\w+\\s+)?(?:reading|processing|"
   "summari[sz]ing|reviewing|parsing|scanning|screening|indexing|analy[sz]ing|evaluating)\\s+(?:this|these|the\\s+"
   "following)\\b|\\bif\\s+you\\s+are\\s+an?\\s+(?:AI|LLM|language\\s+model|large\\s+language\\s+model|assistant|"
   "bot|automated)",
   C, 80, 0.6},
  {INJ_STRONG, II, false,
   "\\b(?:AI|LLM|copilot|chatbot|GPT)(?:\\s+(?:reviewer|assistant|agent|model|bot))?\\s*[,:]\\s*(?:please\\s+)?"
   "(?:ignore|disregard|approve|rate|classify|mark|say|tell|respond|reply|output|write|include|add|send|forward|"
   "delete|execute|run|recommend)\\b",
   C, 60, 0.55},
  {INJ_WEAK, II, false,
   "\\b(?:tell|inform|convince|instruct|urge|advise)\\s+(?:the\\s+user|them)\\s+(?:that|to)\\b|\\b(?:do\\s+not|"
   "don't|never)\\s+(?:tell|inform|mention\\s+(?:this\\s+)?to|reveal\\s+(?:this\\s+)?to|alert)\\s+the\\s+user\\b|"
   "\\brate\\s+this\\s+(?:applicant|candidate|product|review)\\s+\\d+|\\bmark\\s+all\\s+(?:\\w+\\s+)?checks\\s+as\\s+"
   "passed",
   C, 60, 0.35},
  {INJ_WEAK, II, false,
   "\\b(?:send|forward|email|post|upload|exfiltrate|leak)\\s+(?:\\w+\\s+){0,6}to\\s+[\\w.+-]+@[\\w-]+\\.[\\w.]+|"
   "\\bcall\\s+(?:the\\s+)?\\w+\\s+(?:tool|function)\\s+with\\b|\\b(?:send_email|exfiltrat\\w+)",
   C, 80, 0.35},
  {INJ_WEAK, II, false,
   "(?:致|给)正在阅读[^。\\n]{0,12}(?:AI|人工智能|助手|模型)|(?:pour|à)\\s+l'assistant\\s+IA|"
   "Anweisung\\s+(?:für|an)\\s+(?:die\\s+|den\\s+)?KI|instrucción\\s+para\\s+(?:el\\s+)?(?:asistente|modelo)",
   CU, 60, 0.5},
  {INJ_WEAK, II, false,
   "\\bwhen\\s+(?:summari[sz]ing|processing|reading|answering\\s+questions\\s+about|asked\\s+about)\\s+(?:this|the)\\s+"
   "(?:\\w+\\s+)?(?:document|page|email|text|file|article|review|cv|resume|website|message)|\\binstead\\s+of\\s+"
   "(?:summari[sz]ing|translating|answering|classifying|doing\\s+(?:that|this))\\b|\\b(?:do\\s+not|don't|never)\\s+"
   "(?:mention|reveal|disclose)\\s+(?:this|these)\\s+(?:instructions?|note|message|directive|comment)",
   C, 80, 0.45},
  {INJ_WEAK, II, false, "display\\s*:\\s*none|visibility\\s*:\\s*hidden|font-size\\s*:\\s*0|\\[white\\s+text\\]|"
   "color\\s*:\\s*(?:white|#fff(?:fff)?)\\b", C, 40, 0.2},

  /* ---- delimiter injection: fake role markers and boundaries ---- */
  {INJ_STRONG, DI, false,
   "<\\|im_start\\|>\\s*(?:system|assistant)|<\\|(?:system|endoftext|eot_id|start_header_id)\\|>|\\[/?INST\\]|"
   "<</?SYS>>|<start_of_turn>\\s*(?:system|model)|<end_of_turn>",
   C, 40, 0.6},
  {INJ_WEAK, DI, false, "<\\|im_(?:start|end)\\|>|<\\|(?:user|assistant)\\|>|<start_of_turn>", C, 24, 0.35},
  {INJ_STRONG, DI, false,
   "</?(?:system|system_prompt|instructions?|admin|developer)>|</(?:user|user_input|input|document|context)>\\s*<",
   C, 40, 0.5},
  {INJ_STRONG, DI, false,
   "\\b(?:END|BEGIN|START)\\s*(?:OF\\s+)?(?:USER\\s+(?:INPUT|MESSAGE|QUERY)|SYSTEM\\s+(?:PROMPT|INSTRUCTIONS|"
   "MESSAGE)|(?:NEW\\s+)?INSTRUCTIONS|CONTEXT|DOCUMENT)\\b",
   0, 40, 0.5},
  {INJ_STRONG, DI, false,
   "(?:^|\\n)[ \\t]*(?:#{2,}|\\*\\*|\\[|==+|--+)?[ \\t]*(?:SYSTEM|ADMIN|DEVELOPER|NEW\\s+INSTRUCTIONS|"
   "SYSTEM\\s+(?:MESSAGE|OVERRIDE|PROMPT|NOTE|UPDATE))[ \\t]*(?:\\]|\\*\\*|==+|--+)?[ \\t]*:",
   0, 48, 0.5},
  {INJ_STRONG, DI, false, "\\bSYSTEM\\s+(?:MESSAGE|OVERRIDE|PROMPT\\s+UPDATE|NOTICE|ALERT|INSTRUCTION)S?\\b", 0, 40, 0.5},
  {INJ_STRONG, DI, false, "###\\s*(?:system|instructions?|new\\s+instructions|admin|developer)\\b", C, 40, 0.5},
  {INJ_WEAK, DI, false,
   "(?:^|[\\n.!?\"]\\s*)(?:system|assistant|admin|developer)\\s*:\\s*(?:\\w+\\s+){0,2}(?:ignore|disregard|classify|"
   "you\\s+must|you\\s+are|new|override|reveal|respond|answer|output|the\\s+assistant)",
   C, 60, 0.55},
  {INJ_WEAK, "fake_turn", false, "(?:^|\\n)[ \\t]*(?:Assistant|AI|ChatGPT|Claude|GPT-?4?|Human)\\s*:", 0, 24, 0.3},
  {INJ_WEAK, DI, false, "\\bend\\s+of\\s+(?:the\\s+)?(?:user\\s+)?(?:input|prompt|instructions|conversation)\\b", C, 40,
   0.3},
  {INJ_WEAK, DI, false, "\"role\"\\s*:\\s*\"(?:system|developer)\"", C, 32, 0.3},
  {INJ_WEAK, DI, false, "\\b(?:priority|admin|system|emergency)\\s+override\\b|\\boverride\\s*:", C, 24, 0.35},

  /* ---- decode (or join) and obey ---- */
  {INJ_WEAK, EP, false,
   "\\b(?:decode|decipher|decrypt|translate|convert|read|join|combine|concatenate|assemble|put\\s+together|"
   "reverse|unscramble|fill\\s+in)\\b[^.!?\\n]{0,80}?\\b(?:and|then)\\s+(?:\\w+\\s+)?(?:do|follow|obey|execute|"
   "carry\\s+out|perform|run|apply|act\\s+on|comply\\s+with)\\b",
   C, 140, 0.45},
  {INJ_WEAK, EP, false,
   "\\bdo\\s+what\\s+(?:\\w+\\s*){1,4}\\s*(?:says|spells|tells\\s+you|instructs)|\\b(?:obey|execute|carry\\s+out)\\s+"
   "(?:it|them|the\\s+(?:result|resulting|decoded|hidden)\\w*(?:\\s+instruction)?)|\\bexecute\\s*\\(|"
   "\\b(?:execute|exécute|ejecuta|esegui|führe)\\s+\\w{1,3}\\s*\\+\\s*\\w{1,3}|\\b(?:dekodiere|entschlüssele)\\b"
   "[^.\\n]{0,60}\\bbefolge|\\bbefolge\\s+die\\s+Anweisung",
   CU, 100, 0.45},

  /* ---- talking ABOUT attacks (lowers the score of quoted or third-person evidence) ---- */
  {INJ_META, "meta", false,
   "\\b(?:prompt\\s+injections?|injection\\s+attacks?|jailbreak(?:ing)?\\s+(?:attacks?|prompts?|techniques?|"
   "attempts?)|attackers?|red[- ]?team(?:ing|ers?)?|pentest\\w*|penetration\\s+test\\w*|vulnerabilit\\w+|"
   "exploit(?:s|ed|ation)?|threat\\s+model\\w*|mitigat\\w+|defen[cs]es?|detect(?:ion|or|ing)?|classifiers?|"
   "regex\\w*|keyword\\s+filters?|payloads?|OWASP|adversarial|CTF|e\\.g\\.|for\\s+example|such\\s+as|"
   "the\\s+phrase|phrasing|the\\s+string|finding|recommendation|phishing|scam|smishing|fraud|"
   "is\\s+(?:this|it)\\s+(?:legit|legitimate|safe|real)|lecture|paper|abstract|blog\\s+post|tutorial|"
   "the\\s+model\\s+(?:complied|refused)|(?:tried|tested|submitted)\\s+(?:the|a)\\b)",
   C, 40, 0.15},
  {INJ_META, "meta", false,
   "injection\\s+de\\s+prompt|Prompt-Injection|inyección\\s+de\\s+prompt|iniezione\\s+di\\s+prompt|"
   "инъекци\\w+\\s+промпт\\w*|提示词?注入|プロンプトインジェクション|프롬프트\\s*인젝션|Phishing|arnaque|"
   "estafa|fraude|Betrug",
   CU, 40, 0.15},

  /* ---- the user's own earlier request ---- */
  {INJ_OWN, "own", false,
   "\\b(?:I|we)\\s+(?:just\\s+)?(?:gave|wrote|sent|said|mentioned|asked|requested|pasted|typed|made|added|provided|"
   "listed|told\\s+you)\\b|\\bmy\\s+(?:last|previous|earlier|first|second|original|own)\\s+(?:\\w+\\s+)?"
   "(?:message|request|question|instructions?|email|prompt|answer|reply|draft|ticket|choice)\\b",
   C, 60, 1.0},

  /* ---- triggers: a disguise to undo in finish ---- */
  {INJ_TRIG_ROT13, EP, false, "\\brot[- ]?13\\b|\\bcaesar\\b", C, 16, 0},
  {INJ_TRIG_REV, EP, false, "\\b(?:reversed|backwards|in\\s+reverse|right[- ]to[- ]left|reverse\\s+(?:it|this|the\\s+(?:text|string|letters|"
   "order|following)))\\b", C, 16, 0},
  {INJ_TRIG_ACRO, EP, false, "\\bfirst\\s+(?:letter|character)s?\\s+of\\s+(?:each|every)\\b", C, 40, 0},
  {INJ_TRIG_SPLIT, "payload_splitting", false,
   "\\b(?!\\d)\\w{1,3}\\s*\\+\\s*(?!\\d)\\w{1,3}\\b|\\b(?:piece|part|fragment|chunk)\\s*\\d|\\bjoin\\b|\\bconcatenat\\w*|"
   "\\bcombine\\b|\\bput\\s+(?:them\\s+)?together\\b|\\bexécute\\s+\\w\\s*\\+",
   CU, 24, 0},
  {INJ_TRIG_TAG, "tag_characters", false, "\\xF3\\xA0[\\x80-\\x81][\\x80-\\xBF]", 0, 8, 0},
  {INJ_TRIG_ZW, "invisible_characters", false,
   "\\xE2\\x80[\\x8B-\\x8F]|\\xE2\\x81[\\xA0-\\xA4]|\\xEF\\xBB\\xBF|\\xC2\\xAD", 0, 8, 0},
};

const size_t guard_inj_nphrases = sizeof guard_inj_phrases / sizeof guard_inj_phrases[0];

/* Hyperscan forms: what the Hyperscan pass looks for instead of a row (PCRE2 still confirms the
 * row itself), keyed by the start of the row's expression (unique: test_guard_injection_forms).
 * Each is a factor of the row: every match of the row contains a match of the form that ends
 * inside it, so the row's confirmation window (max_len before the form's end) still holds its
 * start.  Hyperscan runs a row led by a class ("\w{1,3} + \w{1,3}") as an automaton at every
 * byte, and a big alternation of phrases with optional words around them (caseless UTF-8 most of
 * all) as a few large ones; a form keeps a rare word of each phrase, optional prefixes and
 * suffixes dropped, so the literal matcher does most of the work.  Measured (the injection rows'
 * Hyperscan pass per 4 KiB, with the \b rule below): bench_guard's sample 17 -> 8 µs, plain chat
 * 29 -> 16, hard negatives 59 -> 35.  Rows without a form lose only their \b (injection.c). */
const inj_hs_form guard_inj_hs_forms[] = {
  /* ["\w{1,3} + \w{1,3}", "piece 1", "join", ...]: the plus sign */
  {"\\b(?!\\d)\\w{1,3}\\s*\\+\\s*(?!\\d)\\w{1,3}\\b|",
   "\\+|(?:piece|part|fragment|chunk)\\s*\\d|join|concatenat|combine|put\\s+(?:them\\s+)?together"},
  /* "all the previous ... rules": the optional "all of the" before the qualifier dropped */
  {"\\b(?:(?:all|any|every|each)" S "(?:of", RULE_Q S "(?:" W S "){0,2}" RULE_N},
  /* "the text above", ...: optional leading "the" dropped */
  {"\\b(?:the\\s+)?(?:text|words|content",
   "(?:text|words|content|message|instructions)\\s+(?:above|before\\s+(?:this|my))|everything\\s+(?:that\\s+)?"
   "(?:appears|comes|came|is|was\\s+written)\\s+(?:before|above)|what\\s+(?:were\\s+you|you\\s+were|have\\s+you\\s+"
   "been)\\s+(?:told|instructed|given|programmed)|(?:preamble|configuration|instructions)\\s+you\\s+(?:were|have\\s+"
   "been)\\s+given"},
  /* "your system prompt" in other languages: optional possessives dropped, nouns first */
  {"(?:\\b(?:dein(?:en)?|den|die)\\s+(?:System-?prompt",
   "System-?prompt|Systemanweisungen|Anweisungen|(?:prompt|message)\\s+système|(?:tes|vos)\\s+instructions|"
   "prompt\\s+(?:del\\s+)?sistema|tus\\s+instrucciones|prompt\\s+di\\s+sistema|tue\\s+istruzioni|"
   "prompt\\s+do\\s+sistema|suas\\s+instruções|системный\\s+промпт|свои\\s+инструкции|系统提示|"
   "你的(?:指令|设定|提示词)|システムプロンプト|시스템\\s*프롬프트"},
  /* German, Spanish, Italian, Portuguese, Dutch/Polish/Turkish and Russian rules: the noun that
   * ends every match (their short articles, "le", "las", "ihre", were literals in English text;
   * bench_guard's sample 109k -> 93k instructions for the injection rows' pass, with the "I'm
   * the developer" form below).  Not French: its nouns are English words too ("instructions") */
  {"\\b(?:(?:alle|sämtliche)\\s+)?(?:vorherigen",
   "Anweisungen|Instruktionen|Regeln|Richtlinien|Befehle|Vorgaben|Systemanweisungen|Einschränkungen"},
  {"\\b(?:(?:todas|todos)\\s+)?(?:las|tus",
   "instrucciones|reglas|indicaciones|directrices|órdenes|normas|restricciones"},
  {"\\b(?:(?:tutte|tutti)\\s+)?(?:le|tue", "istruzioni|regole|direttive|indicazioni|linee\\s+guida|restrizioni"},
  {"(?:(?:все|всех)\\s+)?(?:предыдущие",
   "инструкции|указания|правила|команды|ограничения|інструкції"},
  {"\\b(?:(?:todas|todos)\\s+)?(?:as|suas",
   "instruções|instrucoes|orientações|orientacoes|regras|diretrizes|ordens|restrições"},
  {"\\b(?:alle\\s+)?(?:eerdere|vorige",
   "instructies|regels|richtlijnen|opdrachten|instrukcje|polecenia|zasady|reguły|wytyczne|talimatlar|"
   "kuralları|komutları|yönergeleri"},
  /* "I'm the developer", "this is your admin": the role noun (or "in charge") ends every match */
  {"\\b(?:i'?m|i\\s+am|this\\s+is)",
   "developer|creator|admin|administrator|owner|operator|maintainer|supervisor|in\\s+charge"},
  /* "no rules": "have/has/with/there are" before "no ..." and "no longer/not" before "bound by"
   * dropped (common words Hyperscan had to follow up; ~3k instructions on bench_guard's sample);
   * the bare "no restrictions" branch is the middle one with no words between */
  {"\\b(?:no\\s+longer|not)",
   "(?:bound|restricted|limited|constrained|governed)\\s+by|no\\s+(?:\\w+\\s+){0,2}(?:restrictions|limits|"
   "limitations|rules|guidelines|filters?|censorship|boundaries|constraints|ethics|morals|safeguards|policies|laws)|"
   "without\\s+(?:any\\s+)?(?:\\w+\\s+)?(?:restrictions|limits|limitations|rules|filter(?:s|ing)?|censorship|"
   "guidelines|refusing|refusals?|safeguards)"},
  /* hypothetical framing: the noun with the word before it ("a story", "my novel"), not the
   * bare noun: "story" alone is in most writing prompts, and each one was a PCRE2 confirmation
   * of the whole caseless UTF-8 row over a 60-byte window (~7k instructions; MT-Bench's 4 KiB
   * had three: 21k of the check's 48k in PCRE2) */
  {"\\b(?:hypothetical(?:ly)?|imagine",
   "hypothetical|imagine\\s+(?:a\\s+world|that|an?\\s+(?:ai|world|universe))|(?:fictional|hypothetical|alternate|"
   "parallel)\\s+(?:world|universe|scenario|reality)|(?:a|my)\\s+(?:novel|story|screenplay|book|movie\\s+script)|"
   "thought\\s+experiment|educational\\s+purposes|purely\\s+(?:academic|educational|fictional)|safe\\s+sandbox|"
   "real(?:-world)?\\s+consequences|(?:just|only)\\s+(?:fiction|a\\s+story|a\\s+game)|roman|novela|小説のため|"
   "为了写小说|假设"},
  /* meta words; "the string", "for example" and "is this legit" by their last word after a
   * blank (their leading "the", "for", "is", "it" were literals all over plain text) */
  {"\\b(?:prompt\\s+injections?|injection\\s+attacks?",
   "injection|jailbreak|attacker|red[- ]?team|pentest|penetration|vulnerabilit|exploit|threat\\s+model|mitigat|"
   "defen[cs]e|detect|classifier|regex|keyword\\s+filter|payload|OWASP|adversarial|CTF|e\\.g\\.|\\sexample|"
   "such\\s+as|phras|\\sstring|finding|recommendation|phishing|scam|smishing|fraud|\\s(?:legit|safe|real)|"
   "lecture|paper|abstract|blog\\s+post|tutorial|complied|refused|"
   "(?:tried|tested|submitted)\\s+(?:the|a)"},
  /* Rows led by "the", "your", "act", "AI"/"bot" (caseless, inside any word): in English prose
   * those literals are everywhere, and each one ran the rest of the row as an automaton.  The
   * forms keep the rarer words every match ends with (the leading article or possessive
   * dropped).  Measured (the injection rows' Hyperscan pass, instructions per 4 KiB, with the
   * meta form's change above): bench/guard_rails.sh's prose 271k -> 77k, bench_guard's sample
   * 90k -> 75k, a 41-byte prompt 6.7k -> 4.7k. */
  {"\\b(?:your|you\\s+were\\s+given\\s+(?:any\\s+)?|the\\s+ai's",
   "(?:your|given\\s+(?:any\\s+)?|ai's|assistant's|model's)" S "(?:" W S "){0,2}" RULE_N},
  {"\\b(?:the|your)\\s+(?:context|instructions?",
   "(?:context|instructions?|rules|guidelines|settings)\\s+(?:you\\s+were|you've\\s+been|i\\s+(?:was|were))\\s+"
   "(?:given|initiali[sz]ed\\s+with|provided|told)"},
  {"\\b(?:the|your)\\s+(?:operator|developer",
   "(?:operator|developer|creator|admin|administrator|owner)s?'?\\s+(?:\\w+\\s+)?(?:told|said|instructed|gave|wants)"},
  {"\\bthe\\s+user'?s'?\\s+", "user'?s'?\\s+(?:request|question|instructions?|task|query|prompt|message)"},
  {"\\b(?:the|all(?:\\s+of)?\\s+the|everything)\\s+(?:above",
   "(?:above|previous|prior|preceding)\\s*(?:[.,;:!)\"']|and|$)"},
  {"\\b(?:your|the)\\s+(?:new|real|actual",
   "(?:new|real|actual|true|updated)\\s+(?:objective|task|goal|mission|instructions?|directive|purpose|job|role|"
   "orders?|priority)\\s+(?:is|are|will\\s+be)"},
  /* "the full system prompt": the last adjective and the noun */
  {"\\bthe\\s+(?:(?:full|complete",
   "(?:full|complete|entire|exact|original|initial|hidden|secret|confidential|internal|system|developer|first|above|"
   "raw|underlying)\\s+(?:system\\s+prompt|prompt|instructions|preamble|directives|guidelines|rules|configuration|"
   "developer\\s+message|system\\s+message|text|message)"},
  /* "pretend to be my late grandmother": the noun that ends every match ("my" and the optional
   * adjective before it: 3.0k of the forms database's pass over bench_guard's sample, 5.5k over
   * the Presidio texts; the whitespace variants had made them one literal already) */
  {"\\b(?:pretend|act|imagine|roleplay)\\s+", "grand(?:mother|ma|father|pa)|granny"},
  /* "from now on", "write a story where", "for research purposes", "with permission to": the
   * words after "from", "write", "tell", "for", "with", "i have" (bench_guard's sample 74.7k ->
   * 70.9k for the pass; hard negatives 338k -> 335k, plain chat 164k -> 157k) */
  {"\\b(?:you\\s+are\\s+now|you're\\s+now|from\\s+now\\s+on|",
   "\\b(?:you\\s+are\\s+now|you're\\s+now|now\\s+on|act\\s+as|pretend\\s+(?:to\\s+be|you\\s+are|you're)|"
   "role-?play\\s+as|play\\s+the\\s+role|simulate|imagine\\s+you\\s+are|will\\s+(?:now\\s+)?(?:act|be|"
   "behave|respond)\\s+as|(?:answer|respond|reply)\\s+as|stay\\s+in\\s+character|never\\s+break\\s+character|"
   "switch\\s+to)\\b|\\b(?:du\\s+bist\\s+(?:jetzt|nun|ab\\s+sofort)|tu\\s+es\\s+"
   "maintenant|ahora\\s+eres|ora\\s+sei|você\\s+agora\\s+é|agora\\s+você\\s+é)|теперь\\s+ты|从现在起|从现在开始|"
   "你现在是|今から|これからあなたは"},
  {"\\b(?:(?:write|tell)\\s+(?:me\\s+)?a\\s+(?:story",
   "(?:(?:story|novel|poem|screenplay|scene|dialogue)\\s+(?:where|in\\s+which)|(?:research|academic|testing)\\s+"
   "purposes|(?:permission|authori[sz]ation)\\s+(?:to|from)|hypothetisch|stell\\s+dir\\s+vor|hypothétiquement|"
   "imagine[sz]?\\s+un\\s+monde|hipotéticamente|imagina\\s+un\\s+mundo|ipoteticamente|immagina\\s+un\\s+mondo|"
   "hipoteticamente|imagine\\s+um\\s+mundo|гипотетически|представь)|想象一个|仮に|가정해|상상해"},
  {"\\b(?:AI|LLM|GPT|language\\s+model|assistant|agent|bot|model)s?\\s+",
   "(?:reading|processing|summari[sz]ing|reviewing|parsing|scanning|screening|indexing|analy[sz]ing|evaluating)\\s+"
   "(?:this|these|the\\s+following)|if\\s+you\\s+are\\s+an?\\s+(?:AI|LLM|language\\s+model|large\\s+language\\s+model|"
   "assistant|bot|automated)"},
  /* MT-Bench's questions ("you", "your", "the", "and" in every line): rows led by those words
   * ran the rest of the row as an automaton at each of them.  The forms start at a rarer word
   * every match holds: "allowed to" after "you are now", "mode" after "you are in developer",
   * "(tool|function) with" and the "send ... to x@" part without what follows the "@".
   * Measured (the stage's injection rows' Hyperscan pass, instructions per 4 KiB, with the
   * "will ... act as" change of the persona form above): MT-Bench 199k -> 177k, bench_guard's
   * sample 59k -> 57k, prose 105k -> 104k (test_guard_inj_forms: the blanks and cases). */
  {"\\b(?:authori[sz]ed|sanctioned|approved|permitted)\\s+",
   "(?:authori[sz]ed|sanctioned|approved|permitted)\\s+(?:by\\s+(?:the\\s+)?(?:maintainers|developers|admins?|"
   "openai|anthropic)|red[- ]?team|exercise|to\\s+bypass)|(?:allowed|permitted|authori[sz]ed)\\s+to\\s+(?:bypass|"
   "ignore|break|skip|disable)"},
  {"\\b(?:you\\s+are|you're|you\\s+will\\s+be|now)\\s+(?:\\w+\\s+)?(?:in|running",
   "(?:developer|dev|god|maintenance|debug|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|evil|dan)\\s+"
   "mode"},
  /* "the previous rules are outdated": the row's pair form led by "the", "above", "system"...;
   * this one starts at the noun (MT-Bench's pass a further 199k -> 186k; prose +1k) */
  {"\\b(?:(?:the\\s+)?(?:above|previous|prior|earlier|system|original)\\s+(?:instructions|rules|guidelines|prompt)|",
   "(?:instructions|rules|guidelines|prompt)\\s+(?:are|were|is|have\\s+been)\\s+(?:outdated|revoked|cancel+ed|"
   "void|obsolete|invalid|wrong|fake|a\\s+test|no\\s+longer\\s+valid|superseded|lifted|disabled|removed|"
   "(?:just\\s+)?placeholders?|untrusted|a\\s+joke|suspended|changed|been\\s+(?:updated|replaced|changed)|"
   "(?:now\\s+)?void)"},
  /* Rows whose Hyperscan automaton ran from a common word ("post", "read", "do", "tell", "sin")
   * over the gap or the words after it.  Marginal cost of each row in the whole stage's pass
   * (instructions per 4 KiB, the database with it minus without it; bench_guard's sample /
   * MT-Bench / prose / Presidio texts), before -> after:
   * - "send ... to x@": the verb and a blank; injection.c's send_to_may_match opens a window only
   *   where the words, "to" and an address follow (1.1/16.6/2.8/9.2k -> 0.9/5.5/0.3/2.6k);
   * - decode and obey: the verb and the byte after it, without the 80-byte gap and "and then do";
   *   decode_may_match drops verbs inside words ("thread") and sentences without the rest, and
   *   starts the window at the verb (1.1/9.9/29.5/8.0k -> 0/0.6/10.0/0.4k);
   * - "do what the note says", "obey the result": the last word of each branch instead of the
   *   leading "do what" (0.5/8.8/1.9/3.6k -> 0.5/1.5/0.7/1.1k);
   * - "tell the user that", "never tell the user", "rate this product 10": without the negation,
   *   "rate" and "mark all" (0.4/5.7/1.3/2.4k -> 0.4/1.0/0.8/0.1k);
   * - "no rules" in other languages: the noun after the short "sin", "sem", "bez" (literals
   *   inside English words), the verb after "ne" (0.7/5.0/4.0/3.5k -> 0/1.7/0.3/0.4k).
   * test_guard_inj_forms: the blanks, cases and languages, and the pre-checks end to end. */
  {"\\b(?:send|forward|email|post|upload|exfiltrate|leak)\\s+",
   "(?:send|forward|email|post|upload|exfiltrate|leak)\\s|(?:tool|function)\\s+with|send_email|exfiltrat"},
  {"\\b(?:decode|decipher|decrypt|translate|convert|read|join|",
   "(?:decode|decipher|decrypt|translate|convert|read|join|combine|concatenate|assemble|put\\s+together|reverse|"
   "unscramble|fill\\s+in)[^\\w.!?\\n]"},
  {"\\bdo\\s+what\\s+(?:\\w+\\s*){1,4}",
   "says|spells|tells\\s+you|instructs|(?:obey|execute|carry\\s+out)\\s+(?:it|them|the)|execute\\s*\\(|"
   "(?:execute|exécute|ejecuta|esegui|führe)\\s+\\w{1,3}\\s*\\+|befolge"},
  {"\\b(?:tell|inform|convince|instruct|urge|advise)\\s+(?:the\\s+user|them)",
   "(?:tell|inform|convince|instruct|urge|advise)\\s+(?:the\\s+user|them)\\s+(?:that|to)|(?:tell|inform|mention\\s+"
   "(?:this\\s+)?to|reveal\\s+(?:this\\s+)?to|alert)\\s+the\\s+user|(?:applicant|candidate|product|review)\\s+\\d|"
   "checks\\s+as\\s+passed"},
  /* Rows led by "your", "you are", "two" (in most chat prompts) whose every match ends with a
   * rarer phrase: the form is that ending.  What each row as written cost the LINES database's
   * pass over MT-Bench's 4 KiB (the database with it minus without it): "your system prompt"
   * 7.4k, "your hidden rules" 4.5k, "you are freed" 6.8k, "[JAILBREAK]" / "two different
   * responses" 5.6k.  MT-Bench's whole check: 321k -> 284k with the other three and the
   * hypothetical-framing form above, 260k -> 256k with "your hidden rules" (test_guard_inj_forms). */
  {"\\byour\\s+(?:(?:full|complete|entire|exact|original|initial|hidden|secret|confidential|internal|system|"
   "developer|first|real|underlying|pre-?)\\s*)*",
   "system\\s+prompt|preamble|developer\\s+message|system\\s+message|initial\\s+message|context\\s+window|"
   "meta-?prompt|(?:full|complete|entire|exact|original|initial|hidden|secret|confidential|internal|system|developer|"
   "first|real|underlying)\\s+(?:prompt|instructions|directives|programming)"},
  {"\\byour\\s+(?:(?:full|complete|entire|exact|original|initial|hidden|secret|confidential|internal|system|"
   "developer|real|underlying)\\s+)+(?:rules",
   "(?:full|complete|entire|exact|original|initial|hidden|secret|confidential|internal|system|developer|real|"
   "underlying)\\s+(?:rules|guidelines|configuration|config|settings)"},
  {"\\byou\\s+(?:are|have\\s+been)\\s+(?:now\\s+)?(?:freed",
   "freed|free\\s+(?:now|from)|liberated|unleashed|unlocked|released\\s+from"},
  {"\\[(?:GPT|CLASSIC|JAILBREAK",
   "\\[(?:GPT|CLASSIC|JAILBREAK|DAN|🔓JAILBREAK|🔒CLASSIC|NORMAL|DEVELOPER\\s+MODE)|(?:two|2|different|separate)\\s+"
   "(?:ways|responses|answers|paragraphs)"},
  {"\\baucune\\s+(?:règle|restriction|limite|politique)|",
   "aucune\\s+(?:règle|restriction|limite|politique)|sans\\s+(?:aucune\\s+)?(?:restrictions?|limites?|règles?|"
   "filtres?|censure)|s'appliquent\\s+(?:pas|plus)|refuses?\\s+jamais|keine[nr]?\\s+(?:Regeln|Einschränkungen|"
   "Beschränkungen|Grenzen|Filter|Zensur)|ohne\\s+(?:jegliche\\s+)?(?:Einschränkungen|Regeln|Filter|Zensur|Grenzen)|"
   "restricci\\w+|l[ií]mites?|reglas|filtros|censura|ninguna\\s+(?:restricción|regla|política)|nunca\\s+"
   "(?:te\\s+niegas|se\\s+niega|recusa)|senza\\s+(?:alcuna\\s+)?(?:restrizion[ei]|limit[ei]|regole|filtri|censura)|"
   "nessuna\\s+(?:restrizione|regola|limitazione)|restrições|restricoes|limites|regras|nenhuma\\s+(?:restrição|"
   "regra|política)|zonder\\s+(?:beperkingen|regels|filters)|ograniczeń|zasad|filtrów|cenzury|"
   "(?:kısıtlama|sınırlama|kural)sız"},
};
const size_t guard_inj_nhs_forms = sizeof guard_inj_hs_forms / sizeof guard_inj_hs_forms[0];
