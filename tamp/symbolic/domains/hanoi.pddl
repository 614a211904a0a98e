; Towers of Hanoi: move disks between pegs, one at a time, never a larger disk on a
; smaller one. (smaller ?x ?d) says disk ?d may rest on ?x; it is static (no action
; changes it) and is evaluated away at grounding time. A peg is "smaller than nothing":
; the problem lists (smaller peg d) for every peg and disk. Disks and pegs share the
; supertype place rather than using (either disk peg), which Fast Downward rejects.
(define (domain hanoi)
  (:requirements :strips :typing)
  (:types disk peg - place)
  (:predicates
    (on ?d - disk ?x - place)
    (clear ?x - place)
    (smaller ?x - place ?d - disk))

  (:action move
    :parameters (?d - disk ?from - place ?to - place)
    :precondition (and (on ?d ?from) (clear ?d) (clear ?to) (smaller ?to ?d))
    :effect (and (on ?d ?to) (clear ?from)
                 (not (on ?d ?from)) (not (clear ?to)))))
